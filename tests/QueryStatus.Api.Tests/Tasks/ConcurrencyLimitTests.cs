using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>A license never has more tasks running than Licenses:&lt;id&gt;:MaxConcurrentTasks (or Scheduler:DefaultMaxConcurrentTasks).</summary>
public class ConcurrencyLimitTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task ParallelLeasesNeverGiveALicenseMoreRunningTasksThanItsLimit()
    {
        var (limited, defaulted) = (TestData.NewLicenseId(), TestData.NewLicenseId());
        using var factory = NewFactory(
            provider,
            ($"Licenses:{limited}:MaxConcurrentTasks", "2"),
            ("Scheduler:DefaultMaxConcurrentTasks", "3"));
        using var limitedClient = factory.CreateClientWithJwt(limited);
        using var defaultedClient = factory.CreateClientWithJwt(defaulted);
        var limitedRun = await limitedClient.SubmitAsync(Subs("a", 10));
        var defaultedRun = await defaultedClient.SubmitAsync(Subs("b", 10));

        var workers = Enumerable.Range(0, 24).Select(i => factory.CreateWorker($"worker-{i}")).ToList();
        try
        {
            var leases = await Task.WhenAll(workers.Select((w, i) => w.LeaseAsync(maxTasks: 1 + (i % 3))));
            var leased = leases.SelectMany(l => l).ToList();

            Assert.Equal(["a0", "a1"], leased.Where(t => t.LicenseId == limited).Select(t => t.Name()).Order(StringComparer.Ordinal));
            Assert.Equal(["b0", "b1", "b2"], leased.Where(t => t.LicenseId == defaulted).Select(t => t.Name()).Order(StringComparer.Ordinal));
            Assert.Equal((8, 2), (await limitedClient.StatusAsync(limitedRun)).Workflow());
            Assert.Equal((7, 3), (await defaultedClient.StatusAsync(defaultedRun)).Workflow());
            Assert.Empty(await workers[0].LeaseAsync(maxTasks: 100));
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }
    }

    [Fact]
    public async Task FinishingARunningTaskFreesASlotForTheNextTaskOfItsLicense()
    {
        var license = TestData.NewLicenseId();
        using var factory = NewFactory(provider, ($"Licenses:{license}:MaxConcurrentTasks", "2"));
        using var client = factory.CreateClientWithJwt(license);
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 5));

        var running = await worker.LeaseAsync(maxTasks: 5);
        Assert.Equal(["a0", "a1"], running.Select(t => t.Name()));
        Assert.Empty(await worker.LeaseAsync(maxTasks: 5));

        await worker.CompleteOkAsync(running[0], [Row("a0")]);
        var next = Assert.Single(await worker.LeaseAsync(maxTasks: 5));
        Assert.Equal("a2", next.Name());
        Assert.Empty(await worker.LeaseAsync(maxTasks: 5));

        // A retryable failure frees the slot too, and the task is first in line for it.
        await worker.FailOkAsync(running[1], "DATA_SOURCE_ERROR", "Connection reset.", retryable: true);
        var retry = Assert.Single(await worker.LeaseAsync(maxTasks: 5));
        Assert.Equal(("a1", 2), (retry.Name(), retry.Attempt));

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal((2, 2), status.Workflow());
        Assert.Equal((1, 5), status.Progress());
    }

    [Fact]
    public async Task LicenseAtItsLimitDoesNotHoldUpOtherLicenses()
    {
        var (limited, other) = (TestData.NewLicenseId(), TestData.NewLicenseId());
        using var factory = NewFactory(provider, ($"Licenses:{limited}:MaxConcurrentTasks", "1"));
        using var limitedClient = factory.CreateClientWithJwt(limited);
        using var otherClient = factory.CreateClientWithJwt(other);
        using var worker = factory.CreateWorker();
        await limitedClient.SubmitAsync(Subs("a", 5));
        await otherClient.SubmitAsync(Subs("b", 5));

        var leased = await worker.LeaseAsync(maxTasks: 4);

        Assert.Equal(["a0", "b0", "b1", "b2"], leased.Select(t => t.Name()).Order(StringComparer.Ordinal));
    }
}

public sealed class ConcurrencyLimitTestsOnPostgres() : ConcurrencyLimitTests(StoreOptions.PostgresProvider);
