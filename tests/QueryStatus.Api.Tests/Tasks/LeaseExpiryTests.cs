using System.Net;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>An expired lease gives the task back (front of its queue, next attempt); its token is dead from then on.</summary>
public class LeaseExpiryTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task ExpiredLeaseReturnsTaskToTheFrontOfItsQueue()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 3));
        var first = await worker.LeaseOneAsync(leaseSeconds: 30);

        factory.Time.Advance(TimeSpan.FromSeconds(31));
        var again = await worker.LeaseAsync(maxTasks: 2, leaseSeconds: 30);

        Assert.Equal(["a0", "a1"], again.Select(t => t.Name()));
        Assert.Equal(first.TaskId, again[0].TaskId);
        Assert.Equal(2, again[0].Attempt);
        Assert.NotEqual(first.LeaseToken, again[0].LeaseToken);
        Assert.Equal(1, again[1].Attempt);
        Assert.Equal((1, 2), (await client.StatusAsync(scheduleId)).Workflow());
    }

    [Fact]
    public async Task LeaseThatHasNotExpiredKeepsItsTask()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(Subs("a", 2));
        var first = await worker.LeaseOneAsync(leaseSeconds: 30);

        factory.Time.Advance(TimeSpan.FromSeconds(29));

        Assert.Equal("a1", (await worker.LeaseOneAsync()).Name());
        var rows = await worker.RowsOkAsync(first, 0, Row("a0"));
        Assert.Equal(("RUNNING", 1), (rows.GetProperty("state").GetString(), rows.GetProperty("attempt").GetInt32()));
    }

    [Fact]
    public async Task StaleLeaseTokenIsRefusedOnEveryCall()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a0"));
        var stale = await worker.LeaseOneAsync(leaseSeconds: 30);
        factory.Time.Advance(TimeSpan.FromSeconds(31));

        // Expired and waiting in the queue...
        await AssertRefusedAsync(worker, stale);

        // ...and leased again to someone else.
        var current = await worker.LeaseOneAsync(leaseSeconds: 30);
        Assert.Equal((stale.TaskId, 2), (current.TaskId, current.Attempt));
        await AssertRefusedAsync(worker, stale);

        await worker.RowsOkAsync(current, 0, Row("fresh"));
        await worker.CompleteOkAsync(current);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal([Row("fresh")], status.RawRows());

        // A stale token stays refused once the task is done.
        await AssertRefusedAsync(worker, stale);
        Assert.Equal([Row("fresh")], (await client.StatusAsync(scheduleId)).RawRows());
    }

    [Fact]
    public async Task RowsStagedUnderAnExpiredLeaseAreNotInTheResult()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 2));
        var (a0, a1) = (await worker.LeaseOneAsync(leaseSeconds: 30), await worker.LeaseOneAsync(leaseSeconds: 600));
        await worker.RowsOkAsync(a0, 0, Row("a0-lost-0"), Row("a0-lost-1"));
        await worker.RowsOkAsync(a1, 0, Row("a1-0"));

        factory.Time.Advance(TimeSpan.FromSeconds(31));
        var retry = await worker.LeaseOneAsync();
        Assert.Equal((a0.TaskId, 2), (retry.TaskId, retry.Attempt));

        // The same batch numbers are new under the new lease.
        var rows = await worker.RowsOkAsync(retry, 0, Row("a0-0"));
        Assert.False(rows.GetProperty("duplicate").GetBoolean());
        await worker.RowsOkAsync(retry, 1, Row("a0-1"));
        await worker.CompleteOkAsync(retry, [Row("a0-2")]);
        await worker.CompleteOkAsync(a1, [Row("a1-1")]);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal([Row("a0-0"), Row("a0-1"), Row("a0-2"), Row("a1-0"), Row("a1-1")], status.RawRows());
    }

    [Fact]
    public async Task HeartbeatExtendsTheLease()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 2));
        var task = await worker.LeaseOneAsync(leaseSeconds: 30);

        factory.Time.Advance(TimeSpan.FromSeconds(20));
        var beat = await WorkerClient.OkAsync(worker.HeartbeatAsync(task, leaseSeconds: 60));
        Assert.Equal("2026-11-29T12:01:20Z", beat.GetProperty("lease_expires_at").GetString());
        Assert.Equal(("RUNNING", 1, false), (beat.GetProperty("state").GetString(), beat.GetProperty("attempt").GetInt32(), beat.GetProperty("duplicate").GetBoolean()));

        // Past the first expiry, short of the new one: the lease holds and the task is not handed out again.
        factory.Time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("a1", (await worker.LeaseOneAsync()).Name());
        await worker.RowsOkAsync(task, 0, Row("a0-0"));

        // Without another heartbeat it ends at the new expiry.
        factory.Time.Advance(TimeSpan.FromSeconds(2));
        await AssertRefusedAsync(worker, task);
        var retry = await worker.LeaseOneAsync();
        Assert.Equal((task.TaskId, 2), (retry.TaskId, retry.Attempt));
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task HeartbeatWithoutLeaseSecondsExtendsTheLeaseBySixtySeconds()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(Sub("a0"));
        var task = await worker.LeaseOneAsync(leaseSeconds: 600);

        factory.Time.Advance(TimeSpan.FromSeconds(10));
        var beat = await WorkerClient.OkAsync(worker.HeartbeatAsync(task));

        // A heartbeat sets the lease to end lease_seconds from now, even when that is sooner than before.
        Assert.Equal("2026-11-29T12:01:10Z", beat.GetProperty("lease_expires_at").GetString());
        factory.Time.Advance(TimeSpan.FromSeconds(61));
        await AssertRefusedAsync(worker, task);
    }

    [Fact]
    public async Task LeaseExpiringOnTheLastAttemptFailsTheRunWithTaskLeaseExpired()
    {
        using var factory = NewFactory(provider, ("Scheduler:MaxAttempts", "2"));
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 3));
        var first = await worker.LeaseOneAsync(leaseSeconds: 30);
        var sibling = await worker.LeaseOneAsync(leaseSeconds: 600);
        await worker.CompleteOkAsync(sibling, [Row("a1")]);

        factory.Time.Advance(TimeSpan.FromSeconds(31));
        var second = await worker.LeaseOneAsync(leaseSeconds: 30);
        Assert.Equal((first.TaskId, 2), (second.TaskId, second.Attempt));
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());

        await factory.AdvanceAsync(TimeSpan.FromSeconds(31));
        var status = await client.StatusAsync(scheduleId);

        var message = status.AssertFailure("TASK_LEASE_EXPIRED");
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.Equal((0, 0), status.Workflow());
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10)); // a2 was dropped with the run
        await AssertRefusedAsync(worker, second);
    }

    /// <summary>Rows, complete, heartbeat and fail with <paramref name="task"/>'s token all answer 409, and change nothing.</summary>
    internal static async Task AssertRefusedAsync(WorkerClient worker, WorkerTask task)
    {
        await (await worker.RowsAsync(task, 99, Row("stale"))).AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        await (await worker.CompleteAsync(task, [Row("stale")], [Sub("stale")])).AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        await (await worker.HeartbeatAsync(task, 600)).AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        await (await worker.FailAsync(task, "STALE", "A stale worker gave up.", retryable: false)).AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
    }
}

public sealed class LeaseExpiryTestsOnPostgres() : LeaseExpiryTests(StoreOptions.PostgresProvider);
