using System.Net;
using System.Text;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>Scheduler:MaxRunTime, Scheduler:MaxRowsPerRun and Scheduler:MaxRequestBodyBytes.</summary>
public class RunLimitTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task RunNotFinishedWithinMaxRunTimeFailsWithQueryTimeout()
    {
        using var factory = NewFactory(provider, ("Scheduler:MaxRunTime", "00:10:00"));
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 3));
        var task = await worker.LeaseOneAsync(leaseSeconds: 600);
        await worker.CompleteOkAsync(task, [Row("a0")]);
        var running = await worker.LeaseOneAsync(leaseSeconds: 600);

        await factory.AdvanceAsync(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());

        await factory.AdvanceAsync(TimeSpan.FromSeconds(1));
        var status = await client.StatusAsync(scheduleId);

        status.AssertFailure("QUERY_TIMEOUT");
        Assert.Equal((1, 3), status.Progress());
        await LeaseExpiryTests.AssertRefusedAsync(worker, running);
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10));
    }

    [Fact]
    public async Task RunTimeCountsFromSubmissionNotFromTheFirstLease()
    {
        using var factory = NewFactory(provider, ("Scheduler:MaxRunTime", "00:10:00"));
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a0"));

        factory.Time.Advance(TimeSpan.FromMinutes(9));
        var task = await worker.LeaseOneAsync(leaseSeconds: 600);
        factory.Time.Advance(TimeSpan.FromMinutes(1));

        await (await worker.CompleteAsync(task, [Row("late")])).AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        (await client.StatusAsync(scheduleId)).AssertFailure("QUERY_TIMEOUT");
    }

    [Fact]
    public async Task RowsBeyondMaxRowsPerRunAreRefusedAndFailTheRunWithResultTooLarge()
    {
        using var factory = NewFactory(provider, ("Scheduler:MaxRowsPerRun", "5"));
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 3));
        var leased = await worker.LeaseAsync(maxTasks: 3);

        // Staged and committed rows together may reach the limit...
        await worker.RowsOkAsync(leased[0], 0, Row("1"), Row("2"), Row("3"));
        await worker.CompleteOkAsync(leased[1], [Row("4"), Row("5")]);
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());

        // ...but not pass it: the sixth row is refused and ends the run.
        var refused = await worker.RowsAsync(leased[2], 0, Row("6"));
        await refused.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");

        var status = await client.StatusAsync(scheduleId);
        Assert.Contains("5", status.AssertFailure("RESULT_TOO_LARGE"), StringComparison.Ordinal);
        await LeaseExpiryTests.AssertRefusedAsync(worker, leased[0]);
    }

    [Fact]
    public async Task CompletionWhoseRowsPassMaxRowsPerRunIsRefusedAndFailsTheRun()
    {
        using var factory = NewFactory(provider, ("Scheduler:MaxRowsPerRun", "5"));
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a0"));
        var task = await worker.LeaseOneAsync();
        await worker.RowsOkAsync(task, 0, Row("1"), Row("2"), Row("3"), Row("4"));

        var refused = await worker.CompleteAsync(task, [Row("5"), Row("6")]);

        await refused.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        (await client.StatusAsync(scheduleId)).AssertFailure("RESULT_TOO_LARGE");
    }

    [Fact]
    public async Task WorkerCallBodyOverMaxRequestBodyBytesIsRefusedWith413()
    {
        using var factory = NewFactory(provider, ("Scheduler:MaxRequestBodyBytes", "2048"));
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a0"));
        var task = await worker.LeaseOneAsync();
        var big = Enumerable.Range(0, 30).Select(i => Row($"big-{i}-" + new string('x', 90))).ToArray();
        var small = Enumerable.Range(0, 8).Select(i => Row($"small-{i}-" + new string('y', 90))).ToArray();
        Assert.InRange(Encoding.UTF8.GetByteCount(string.Join(",", big)), 3000, 3500);

        var refused = await worker.RowsAsync(task, 0, big);
        var description = await refused.AssertEnvelopeAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
        Assert.Contains("2048", description, StringComparison.Ordinal);

        // The refused batch added nothing and did not spend its number; the lease is still good.
        var accepted = await worker.RowsOkAsync(task, 0, small);
        Assert.Equal(8, accepted.GetProperty("rows_accepted").GetInt64());
        await (await worker.CompleteAsync(task, big)).AssertEnvelopeAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
        await worker.CompleteOkAsync(task);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal(small, status.RawRows());
    }
}

public sealed class RunLimitTestsOnPostgres() : RunLimitTests(StoreOptions.PostgresProvider);
