using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>FIFO within a license, round robin across licenses.</summary>
public class SchedulingOrderTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task TasksOfOneLicenseAreLeasedInTheOrderTheyWereSubmitted()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var first = await client.SubmitAsync(Subs("a", 3));
        var second = await client.SubmitAsync(Subs("b", 3));

        var leased = new List<WorkerTask>();
        leased.AddRange(await worker.LeaseAsync(maxTasks: 2));
        leased.Add(await worker.LeaseOneAsync());
        leased.AddRange(await worker.LeaseAsync(maxTasks: 10));

        Assert.Equal(["a0", "a1", "a2", "b0", "b1", "b2"], leased.Select(t => t.Name()));
        Assert.Equal([first, first, first, second, second, second], leased.Select(t => t.ScheduleId));
    }

    [Fact]
    public async Task LicenseThatSubmitsBehindALongQueueIsServedInTheFirstLease()
    {
        using var factory = NewFactory(provider);
        var (busy, small) = (TestData.NewLicenseId(), TestData.NewLicenseId());
        using var busyClient = factory.CreateClientWithJwt(busy);
        using var smallClient = factory.CreateClientWithJwt(small);
        using var worker = factory.CreateWorker();
        await busyClient.SubmitAsync(Subs("a", 20));
        await smallClient.SubmitAsync(Subs("b", 2));

        var leased = await worker.LeaseAsync(maxTasks: 4);

        Assert.Equal(4, leased.Count);
        Assert.Equal(["b0", "b1"], leased.Where(t => t.LicenseId == small).Select(t => t.Name()));
        Assert.Equal(["a0", "a1"], leased.Where(t => t.LicenseId == busy).Select(t => t.Name()));
    }

    [Fact]
    public async Task LeasingOneTaskAtATimeAlternatesBetweenLicenses()
    {
        using var factory = NewFactory(provider);
        var (a, b) = (TestData.NewLicenseId(), TestData.NewLicenseId());
        using var clientA = factory.CreateClientWithJwt(a);
        using var clientB = factory.CreateClientWithJwt(b);
        using var worker = factory.CreateWorker();
        await clientA.SubmitAsync(Subs("a", 20));
        await clientB.SubmitAsync(Subs("b", 2));

        var leased = new List<WorkerTask>();
        for (var i = 0; i < 6; i++)
        {
            leased.Add(await worker.LeaseOneAsync());
        }

        // B runs dry after its two tasks; from then on A has the worker to itself.
        Assert.Equal(["a0", "b0", "a1", "b1", "a2", "a3"], leased.Select(t => t.Name()));
        Assert.Equal([a, b, a, b, a, a], leased.Select(t => t.LicenseId));
    }

    [Fact]
    public async Task EachOfThreeLicensesGetsItsTurnBeforeAnyGetsASecond()
    {
        using var factory = NewFactory(provider);
        string[] licenses = [TestData.NewLicenseId(), TestData.NewLicenseId(), TestData.NewLicenseId()];
        using var worker = factory.CreateWorker();
        foreach (var (license, prefix) in licenses.Zip(["a", "b", "c"]))
        {
            using var client = factory.CreateClientWithJwt(license);
            await client.SubmitAsync(Subs(prefix, 3));
        }

        var leased = new List<WorkerTask>();
        leased.AddRange(await worker.LeaseAsync(maxTasks: 2));
        leased.AddRange(await worker.LeaseAsync(maxTasks: 4));
        leased.AddRange(await worker.LeaseAsync(maxTasks: 3));

        Assert.Equal(9, leased.Count);
        for (var round = 0; round < 3; round++)
        {
            // Every round of three hands each license one task, in that license's FIFO order.
            var turn = leased.Skip(round * 3).Take(3).ToList();
            Assert.Equal(licenses.Order(StringComparer.Ordinal), turn.Select(t => t.LicenseId).Order(StringComparer.Ordinal));
            Assert.All(turn, t => Assert.EndsWith(round.ToString(System.Globalization.CultureInfo.InvariantCulture), t.Name(), StringComparison.Ordinal));
        }
    }
}

public sealed class SchedulingOrderTestsOnPostgres() : SchedulingOrderTests(StoreOptions.PostgresProvider);
