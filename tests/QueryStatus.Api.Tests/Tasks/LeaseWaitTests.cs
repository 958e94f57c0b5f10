using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>
/// wait_seconds: with nothing ready, a lease call waits on the service clock until a task is ready or the time is up.
/// Each test first sees the call start waiting (a new timer on the fake clock), then submits or moves the clock.
/// </summary>
public class LeaseWaitTests(string provider = StoreOptions.InMemoryProvider)
{
    /// <summary>Starts a lease call that waits <paramref name="waitSeconds"/> and returns once it is waiting.</summary>
    private static async Task<Task<IReadOnlyList<WorkerTask>>> StartWaitingLeaseAsync(
        QueryStatusFactory factory, WorkerClient worker, int waitSeconds, CancellationToken cancellationToken)
    {
        // One answered call first, so the host and its own timers are up before counting.
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10));
        var timers = factory.Time.PendingTimers();

        var call = worker.LeaseAsync(maxTasks: 1, leaseSeconds: 60, waitSeconds: waitSeconds, cancellationToken: cancellationToken);
        await EventuallyAsync(() => call.IsCompleted || factory.Time.PendingTimers() > timers, "the lease call starts waiting");
        Assert.False(call.IsCompleted, "With nothing queued, a lease call with wait_seconds should wait, not answer at once.");
        return call;
    }

    [Fact]
    public async Task WaitingLeaseReturnsATaskSubmittedWhileItWaits()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        using var patience = new CancellationTokenSource(Patience);
        var call = await StartWaitingLeaseAsync(factory, worker, waitSeconds: 10, patience.Token);

        var scheduleId = await client.SubmitAsync(Sub("a0"));

        var task = Assert.Single(await FinishedAsync(call, "the waiting lease call returns the new task"));
        Assert.Equal(("a0", scheduleId, 1), (task.Name(), task.ScheduleId, task.Attempt));
        Assert.Equal(QueryStatusFactory.Start, factory.Time.GetUtcNow()); // woken by the submission, not by time
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task WaitingLeaseWithNothingSubmittedAnswersEmptyWhenItsTimeIsUp()
    {
        using var factory = NewFactory(provider);
        using var worker = factory.CreateWorker();
        using var patience = new CancellationTokenSource(Patience);
        var call = await StartWaitingLeaseAsync(factory, worker, waitSeconds: 10, patience.Token);
        var timers = factory.Time.PendingTimers();

        // Short of the wait, its timer is still pending: the call has not given up.
        factory.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(timers, factory.Time.PendingTimers());

        factory.Time.Advance(TimeSpan.FromSeconds(1));

        Assert.Empty(await FinishedAsync(call, "the waiting lease call answers once its 10 seconds are up"));
    }

    [Fact]
    public async Task WaitingLeaseIsWokenByALeaseThatExpiresWhileItWaits()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        using var patience = new CancellationTokenSource(Patience);
        await client.SubmitAsync(Sub("a0"));
        var first = await worker.LeaseOneAsync(leaseSeconds: 5);
        var call = await StartWaitingLeaseAsync(factory, worker, waitSeconds: 30, patience.Token);

        factory.Time.Advance(TimeSpan.FromSeconds(6));

        var task = Assert.Single(await FinishedAsync(call, "the waiting lease call picks up the expired task"));
        Assert.Equal((first.TaskId, 2), (task.TaskId, task.Attempt));
    }

    [Fact]
    public async Task WaitingLeaseIsWokenByARetryableFailure()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        using var patience = new CancellationTokenSource(Patience);
        await client.SubmitAsync(Sub("a0"));
        var first = await worker.LeaseOneAsync();
        var call = await StartWaitingLeaseAsync(factory, worker, waitSeconds: 30, patience.Token);

        await worker.FailOkAsync(first, "FLAKY", "Try again.", retryable: true);

        var task = Assert.Single(await FinishedAsync(call, "the waiting lease call picks up the retried task"));
        Assert.Equal((first.TaskId, 2), (task.TaskId, task.Attempt));
    }
}

public sealed class LeaseWaitTestsOnPostgres() : LeaseWaitTests(StoreOptions.PostgresProvider);
