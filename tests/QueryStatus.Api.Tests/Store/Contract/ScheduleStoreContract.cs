using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store.Contract;

/// <summary>
/// Everything a store is built from. A networked store's subclass builds a fresh, empty store (its own database or
/// schema) from it for every call, so that no test sees another's schedules, licenses or queue.
/// </summary>
public sealed record StoreFixtureOptions(FakeTimeProvider Time, StoreOptions Store, SchedulerOptions Scheduler, LicensesOptions Licenses);

/// <summary>
/// The behaviour every <see cref="IScheduleStore"/> shares, exercised through the interface only. A store passes by
/// subclassing this class and implementing <see cref="CreateStore"/>; the class itself must not change per store.
/// </summary>
/// <remarks>
/// Time moves only on the <see cref="FakeTimeProvider"/>, and every move is followed by an explicit
/// <see cref="IScheduleStore.RemoveExpiredAsync"/> (the time step a sweeper calls). A read applies no deadline (it
/// only honours retention to the instant); the step applies each as of its due time (the "time step" cases). <see cref="IScheduleStore.Holdings"/> is read only right
/// after a sweep, since a networked store reports what it last measured.
/// </remarks>
public abstract class ScheduleStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset Epoch = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    private static readonly TimeSpan OneTick = TimeSpan.FromTicks(1);
    private static readonly TimeSpan Retention = TimeSpan.FromMinutes(10);

    /// <summary>Longer than <see cref="Retention"/>, so that tests which wait out a retention keep their other leases.</summary>
    private static readonly TimeSpan LongLease = TimeSpan.FromHours(1);

    private static readonly PageWindow AllRows = new(0, null, 10_000);
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly List<IScheduleStore> _stores = [];

    protected FakeTimeProvider Time { get; } = new(Epoch);

    /// <summary>
    /// Only guards against a broken store hanging the run (a waiting lease never woken, a deadlocked worker loop);
    /// no test asserts how long anything takes.
    /// </summary>
    protected virtual TimeSpan HangGuard => TimeSpan.FromMinutes(2);

    /// <summary>A new, empty store that reads the time, retention, scheduler limits and per-license limits from <paramref name="options"/>.</summary>
    protected abstract IScheduleStore CreateStore(StoreFixtureOptions options);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            switch (store)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }

    // ---- submit, stop, conflict --------------------------------------------------------------------

    [Fact]
    public async Task SubmitQueuesTheRunAndAnswersItsStatus()
    {
        var store = NewStore();
        var (license, id) = (NewLicenseId(), NewScheduleId());

        var outcome = await store.SubmitAsync(new SubmitCommand(license, id, Subs("a", 3), null), None);

        Assert.Equal(WriteResult.Ok, outcome.Result);
        Assert.NotNull(outcome.Status);
        foreach (var snapshot in new[] { outcome.Status, await StatusAsync(store, license, id) })
        {
            Assert.Equal(id, snapshot.ScheduleId);
            Assert.Equal(ScheduleStatus.Queued, snapshot.Status);
            Assert.Equal((0, 3), (snapshot.QueriesReady, snapshot.QueriesTotal));
            Assert.Equal((3, 0), (snapshot.TasksScheduled, snapshot.TasksRunning));
            Assert.Null(snapshot.Failure);
            Assert.Null(snapshot.ExpiresAt);
            Assert.Equal(0, snapshot.TotalRows);
            Assert.Equal(0, snapshot.Page.Count);
        }
    }

    [Fact]
    public async Task SubmitWhileTheRunIsUnfinishedIsAConflictAndChangesNothing()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);

        var whileQueued = await store.SubmitAsync(new SubmitCommand(license, id, Subs("x", 5), null), None);
        var first = await LeaseOneAsync(store);
        var whileRunning = await store.SubmitAsync(new SubmitCommand(license, id, Subs("y", 5), null), None);

        AssertRefusal(RunRefusal.RunNotFinished, whileQueued, ScheduleStatus.Queued);
        AssertRefusal(RunRefusal.RunNotFinished, whileRunning, ScheduleStatus.Running);
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Running, 2), (status.Status, status.QueriesTotal));
        Assert.Equal("a0", Name(first));
        Assert.Equal(["a1"], await LeaseNamesAsync(store, 10));
    }

    [Fact]
    public async Task SubmitAfterTheRunFinishedReplacesItsRunTasksAndResult()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "old", 1);
        var old = await LeaseOneAsync(store);
        await CompleteOkAsync(store, old, [Row("old")]);
        Assert.Equal(ScheduleStatus.Success, (await StatusAsync(store, license, id)).Status);

        var again = await store.SubmitAsync(new SubmitCommand(license, id, Subs("new", 2), null), None);

        Assert.Equal(WriteResult.Ok, again.Result);
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Queued, 0, 2, 0L), (status.Status, status.QueriesReady, status.QueriesTotal, status.TotalRows));
        Assert.Null(status.ExpiresAt);
        await AssertRefusedAsync(store, old, TaskRefusal.TaskNotFound);
        foreach (var task in await LeaseAsync(store, 10))
        {
            await CompleteOkAsync(store, task, [Row(Name(task))]);
        }
        AssertRows([Row("new0"), Row("new1")], await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task TheSameScheduleIdUnderAnotherLicenseIsAnotherRun()
    {
        var store = NewStore();
        var (mine, theirs, id) = (NewLicenseId(), NewLicenseId(), NewScheduleId());
        Assert.Equal(WriteResult.Ok, (await store.SubmitAsync(new SubmitCommand(mine, id, Subs("m", 1), null), None)).Result);
        Assert.Equal(WriteResult.Ok, (await store.SubmitAsync(new SubmitCommand(theirs, id, Subs("t", 2), null), None)).Result);

        Assert.Equal(WriteResult.Ok, (await store.StopAsync(mine, id, None)).Result);

        Assert.Equal(ScheduleStatus.Stopped, (await StatusAsync(store, mine, id)).Status);
        var other = await StatusAsync(store, theirs, id);
        Assert.Equal((ScheduleStatus.Queued, 2), (other.Status, other.QueriesTotal));
        Assert.Equal(["t0", "t1"], await LeaseNamesAsync(store, 10));
    }

    [Fact]
    public async Task StopDropsQueuedTasksAndRefusesTheLeasesOfRunningOnes()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 3);
        var running = await LeaseOneAsync(store);
        await AppendOkAsync(store, running, 0, Row("staged"));
        Time.Advance(TimeSpan.FromSeconds(7));

        var stop = await store.StopAsync(license, id, None);

        Assert.Equal(WriteResult.Ok, stop.Result);
        Assert.NotNull(stop.Status);
        foreach (var snapshot in new[] { stop.Status, await StatusAsync(store, license, id) })
        {
            Assert.Equal(ScheduleStatus.Stopped, snapshot.Status);
            Assert.Equal((0, 3), (snapshot.QueriesReady, snapshot.QueriesTotal));
            Assert.Equal((0, 0), (snapshot.TasksScheduled, snapshot.TasksRunning));
            Assert.Equal(Time.GetUtcNow() + Retention, snapshot.ExpiresAt);
            Assert.Null(snapshot.Failure);
            Assert.Equal(0, snapshot.TotalRows);
        }
        await AssertRefusedAsync(store, running, TaskRefusal.QueryEnded, ScheduleStatus.Stopped);
        Assert.Empty(await LeaseAsync(store, 10));
    }

    [Fact]
    public async Task StopOfAFinishedRunIsAConflictAndChangesNothing()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var stopped = await SubmitOkAsync(store, license, "s", 1);
        Assert.Equal(WriteResult.Ok, (await store.StopAsync(license, stopped, None)).Result);
        var succeeded = await SubmitOkAsync(store, license, "d", 1);
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("kept")]);

        AssertRefusal(RunRefusal.RunAlreadyFinished, await store.StopAsync(license, stopped, None), ScheduleStatus.Stopped);
        AssertRefusal(RunRefusal.RunAlreadyFinished, await store.StopAsync(license, succeeded, None), ScheduleStatus.Success);

        Assert.Equal(ScheduleStatus.Stopped, (await StatusAsync(store, license, stopped)).Status);
        var success = await StatusAsync(store, license, succeeded);
        Assert.Equal(ScheduleStatus.Success, success.Status);
        AssertRows([Row("kept")], success);
    }

    [Fact]
    public async Task StopOfAnUnknownScheduleOrAnotherLicensesScheduleIsNotFound()
    {
        var store = NewStore();
        var (license, other) = (NewLicenseId(), NewLicenseId());
        var id = await SubmitOkAsync(store, license, "a", 1);

        AssertRefusal(RunRefusal.ScheduleNotFound, await store.StopAsync(license, NewScheduleId(), None));
        AssertRefusal(RunRefusal.ScheduleNotFound, await store.StopAsync(other, id, None));

        Assert.Equal(ScheduleStatus.Queued, (await StatusAsync(store, license, id)).Status);
    }

    // ---- lease order ---------------------------------------------------------------------------------

    [Fact]
    public async Task LeaseWithNothingReadyReturnsNoTasks()
    {
        var store = NewStore();
        Assert.Empty(await LeaseAsync(store, 10));

        var license = NewLicenseId();
        await SubmitOkAsync(store, license, "a", 1);
        Assert.Single(await LeaseAsync(store, 10));
        Assert.Empty(await LeaseAsync(store, 10));
    }

    [Fact]
    public async Task LeasedTaskCarriesWhatTheWorkerNeeds()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = NewScheduleId();
        var payload = """{ "query" : "SELECT 1", "params": [1, "ü"] }""";
        await store.SubmitAsync(new SubmitCommand(license, id, [Utf8(payload), Sub("b")], null), None);
        Time.Advance(TimeSpan.FromSeconds(3));

        var leased = await store.LeaseAsync(new LeaseCommand("worker-7", 2, TimeSpan.FromSeconds(90)), TimeSpan.Zero, None);

        Assert.Equal(2, leased.Count);
        var task = leased[0];
        Assert.Equal((id, license, 1), (task.ScheduleId, task.LicenseId, task.Attempt));
        Assert.Equal(payload, Encoding.UTF8.GetString(task.Payload.Span));
        Assert.Equal(Time.GetUtcNow() + TimeSpan.FromSeconds(90), task.LeaseExpiresAt);
        Assert.False(string.IsNullOrWhiteSpace(task.TaskId));
        Assert.False(string.IsNullOrWhiteSpace(task.LeaseToken));
        Assert.NotEqual(task.TaskId, leased[1].TaskId);
        Assert.NotEqual(task.LeaseToken, leased[1].LeaseToken);
    }

    [Fact]
    public async Task LeasesAreFifoWithinALicenseAcrossItsRuns()
    {
        var store = NewStore();
        var license = NewLicenseId();
        await SubmitOkAsync(store, license, "a", 3);
        await SubmitOkAsync(store, license, "b", 2);

        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            order.Add(Name(await LeaseOneAsync(store)));
        }

        Assert.Equal(["a0", "a1", "a2", "b0", "b1"], order);
    }

    [Fact]
    public async Task LeasesAreRoundRobinAcrossLicenses()
    {
        var store = NewStore();
        await SubmitOkAsync(store, NewLicenseId(), "a", 3);
        await SubmitOkAsync(store, NewLicenseId(), "b", 3);
        await SubmitOkAsync(store, NewLicenseId(), "c", 1);

        var order = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            order.Add(Name(await LeaseOneAsync(store)));
        }

        Assert.Equal(["a0", "b0", "c0", "a1", "b1", "a2", "b2"], order);
    }

    [Fact]
    public async Task OneLeaseCallTakesTasksRoundRobinUpToMaxTasks()
    {
        var store = NewStore();
        await SubmitOkAsync(store, NewLicenseId(), "a", 3);
        await SubmitOkAsync(store, NewLicenseId(), "b", 3);

        Assert.Equal(["a0", "b0", "a1", "b1", "a2"], await LeaseNamesAsync(store, 5));
        Assert.Equal(["b2"], await LeaseNamesAsync(store, 5));
    }

    [Fact]
    public async Task ALicenseJoiningTheRotationWaitsBehindTheLicensesAlreadyWaiting()
    {
        var store = NewStore();
        await SubmitOkAsync(store, NewLicenseId(), "a", 2);
        await SubmitOkAsync(store, NewLicenseId(), "b", 2);
        Assert.Equal("a0", Name(await LeaseOneAsync(store)));

        await SubmitOkAsync(store, NewLicenseId(), "c", 2);

        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            order.Add(Name(await LeaseOneAsync(store)));
        }
        Assert.Equal(["b0", "a1", "c0", "b1", "c1"], order);
    }

    [Fact]
    public async Task SnapshotCountsTheQueueOfTheWholeLicenseAndNoOtherLicense()
    {
        var store = NewStore();
        var (license, other) = (NewLicenseId(), NewLicenseId());
        var a = await SubmitOkAsync(store, license, "a", 3);
        var b = await SubmitOkAsync(store, license, "b", 2);
        var c = await SubmitOkAsync(store, other, "c", 4);

        Assert.Equal("a0", Name(await LeaseOneAsync(store)));

        var runningA = await StatusAsync(store, license, a);
        var queuedB = await StatusAsync(store, license, b);
        var queuedC = await StatusAsync(store, other, c);
        Assert.Equal((ScheduleStatus.Running, 0, 3, 4, 1), (runningA.Status, runningA.QueriesReady, runningA.QueriesTotal, runningA.TasksScheduled, runningA.TasksRunning));
        Assert.Equal((ScheduleStatus.Queued, 0, 2, 4, 1), (queuedB.Status, queuedB.QueriesReady, queuedB.QueriesTotal, queuedB.TasksScheduled, queuedB.TasksRunning));
        Assert.Equal((ScheduleStatus.Queued, 0, 4, 4, 0), (queuedC.Status, queuedC.QueriesReady, queuedC.QueriesTotal, queuedC.TasksScheduled, queuedC.TasksRunning));
    }

    [Fact]
    public async Task LeaseWaitingForWorkTakesATaskSubmittedWhileItWaits()
    {
        var store = NewStore();
        var waiting = store.LeaseAsync(new LeaseCommand("w", 1, LongLease), TimeSpan.FromMinutes(1), None).AsTask();

        await SubmitOkAsync(store, NewLicenseId(), "late", 1);

        var leased = await waiting.WaitAsync(HangGuard);
        Assert.Equal("late0", Name(Assert.Single(leased)));
    }

    // ---- per-license concurrency limit -------------------------------------------------------------

    [Fact]
    public async Task ALicenseNeverRunsMoreThanTheDefaultLimitAcrossItsRuns()
    {
        var store = NewStore(s => s.DefaultMaxConcurrentTasks = 2);
        var license = NewLicenseId();
        var a = await SubmitOkAsync(store, license, "a", 3);
        await SubmitOkAsync(store, license, "b", 2);
        await SubmitOkAsync(store, NewLicenseId(), "c", 1);

        var first = await LeaseAsync(store, 10);
        Assert.Equal(["a0", "c0", "a1"], first.Select(Name));
        Assert.Empty(await LeaseAsync(store, 10));

        await CompleteOkAsync(store, first[0]);
        Assert.Equal(["a2"], await LeaseNamesAsync(store, 10));
        Assert.Empty(await LeaseAsync(store, 10));

        Assert.Equal(WriteResult.Ok, (await store.StopAsync(license, a, None)).Result);
        Assert.Equal(["b0", "b1"], await LeaseNamesAsync(store, 10));
    }

    [Fact]
    public async Task APerLicenseLimitOverridesTheDefault()
    {
        var (limited, other) = (NewLicenseId(), NewLicenseId());
        var store = NewStore(s => s.DefaultMaxConcurrentTasks = 3, new LicensesOptions { [limited] = new LicenseOptions { MaxConcurrentTasks = 1 } });
        await SubmitOkAsync(store, limited, "l", 4);
        await SubmitOkAsync(store, other, "o", 4);

        var leased = await LeaseAsync(store, 10);

        Assert.Single(leased, t => t.LicenseId == limited);
        Assert.Equal(3, leased.Count(t => t.LicenseId == other));
        Assert.Empty(await LeaseAsync(store, 10));
    }

    [Fact]
    public async Task EndingALeaseInAnyWayFreesItsSlot()
    {
        var store = NewStore(s => { s.DefaultMaxConcurrentTasks = 1; s.MaxAttempts = 5; });
        var license = NewLicenseId();
        await SubmitOkAsync(store, license, "a", 1);
        var b = await SubmitOkAsync(store, license, "b", 1);
        await SubmitOkAsync(store, license, "c", 1);

        var a0 = await LeaseOneAsync(store, TimeSpan.FromMinutes(1));
        Assert.Empty(await LeaseAsync(store, 10));

        await FailOkAsync(store, a0, "FLAKY", retryable: true);
        var retried = await LeaseOneAsync(store, TimeSpan.FromMinutes(1));
        Assert.Equal((a0.TaskId, 2), (retried.TaskId, retried.Attempt));
        Assert.Empty(await LeaseAsync(store, 10));

        await AdvanceAsync(store, TimeSpan.FromMinutes(1));
        var afterExpiry = await LeaseOneAsync(store);
        Assert.Equal((a0.TaskId, 3), (afterExpiry.TaskId, afterExpiry.Attempt));
        Assert.Empty(await LeaseAsync(store, 10));

        await CompleteOkAsync(store, afterExpiry);
        Assert.Equal(["b0"], await LeaseNamesAsync(store, 10));
        Assert.Empty(await LeaseAsync(store, 10));

        Assert.Equal(WriteResult.Ok, (await store.StopAsync(license, b, None)).Result);
        Assert.Equal(["c0"], await LeaseNamesAsync(store, 10));
    }

    // ---- heartbeats ----------------------------------------------------------------------------------

    [Fact]
    public async Task HeartbeatSetsTheLeaseToEndItsDurationFromNow()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));

        Time.Advance(TimeSpan.FromSeconds(20));
        var beat = await store.HeartbeatAsync(task.TaskId, task.LeaseToken, TimeSpan.FromSeconds(60), None);

        Assert.Equal(WriteResult.Ok, beat.Result);
        Assert.Equal((TaskState.Running, 1), (beat.TaskState, beat.Attempt));
        Assert.Equal(Epoch + TimeSpan.FromSeconds(80), beat.LeaseExpiresAt);

        // Past the first expiry, short of the new one: the lease holds.
        await AdvanceAsync(store, TimeSpan.FromSeconds(59));
        await AppendOkAsync(store, task, 0, Row("kept"));
        Assert.Empty(await LeaseAsync(store, 10));

        await AdvanceAsync(store, TimeSpan.FromSeconds(1));
        await AssertRefusedAsync(store, task, TaskRefusal.LeaseExpired);
        var retry = await LeaseOneAsync(store);
        Assert.Equal((task.TaskId, 2), (retry.TaskId, retry.Attempt));
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, license, id)).Status);
    }

    [Fact]
    public async Task HeartbeatCanShortenTheLease()
    {
        var store = NewStore();
        await SubmitOkAsync(store, NewLicenseId(), "a", 1);
        var task = await LeaseOneAsync(store, TimeSpan.FromMinutes(10));

        var beat = await store.HeartbeatAsync(task.TaskId, task.LeaseToken, TimeSpan.FromMinutes(1), None);
        Assert.Equal(Epoch + TimeSpan.FromMinutes(1), beat.LeaseExpiresAt);

        await AdvanceAsync(store, TimeSpan.FromMinutes(1));
        await AssertRefusedAsync(store, task, TaskRefusal.LeaseExpired);
        Assert.Equal(2, (await LeaseOneAsync(store)).Attempt);
    }

    [Fact]
    public async Task HeartbeatWithAWrongTokenOrUnknownTaskIsRefusedAndExtendsNothing()
    {
        var store = NewStore();
        await SubmitOkAsync(store, NewLicenseId(), "a", 1);
        var task = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));

        AssertRefusal(TaskRefusal.UnknownLease, await store.HeartbeatAsync(task.TaskId, "not-the-token", TimeSpan.FromHours(1), None));
        AssertRefusal(TaskRefusal.TaskNotFound, await store.HeartbeatAsync("t_unknown", task.LeaseToken, TimeSpan.FromHours(1), None));

        await AdvanceAsync(store, TimeSpan.FromSeconds(30));
        await AssertRefusedAsync(store, task, TaskRefusal.LeaseExpired);
    }

    // ---- lease expiry and re-lease -------------------------------------------------------------------

    [Fact]
    public async Task ExpiredLeaseReturnsTheTaskToTheFrontOfItsQueueWithTheNextAttempt()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 3);
        var first = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));

        Assert.Equal(0, await AdvanceAsync(store, TimeSpan.FromSeconds(30)));

        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Running, 3, 0), (status.Status, status.TasksScheduled, status.TasksRunning));
        var again = await LeaseAsync(store, 2);
        Assert.Equal(["a0", "a1"], again.Select(Name));
        Assert.Equal((first.TaskId, 2), (again[0].TaskId, again[0].Attempt));
        Assert.NotEqual(first.LeaseToken, again[0].LeaseToken);
        Assert.Equal(1, again[1].Attempt);
    }

    [Fact]
    public async Task LeaseHoldsUntilTheInstantItExpires()
    {
        var store = NewStore();
        await SubmitOkAsync(store, NewLicenseId(), "a", 1);
        var task = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));
        Assert.Equal(Epoch + TimeSpan.FromSeconds(30), task.LeaseExpiresAt);

        await AdvanceAsync(store, TimeSpan.FromSeconds(30) - OneTick);
        Assert.Equal(WriteResult.Ok, (await AppendAsync(store, task, 0, Row("in time"))).Result);
        Assert.Empty(await LeaseAsync(store, 10));

        await AdvanceAsync(store, OneTick);
        AssertRefusal(TaskRefusal.LeaseExpired, await AppendAsync(store, task, 1, Row("too late")));
        Assert.Single(await LeaseAsync(store, 10));
    }

    [Fact]
    public async Task AStaleLeaseIsRefusedOnEveryCallAndChangesNothing()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var stale = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));
        await AdvanceAsync(store, TimeSpan.FromSeconds(30));

        // Waiting in the queue...
        await AssertRefusedAsync(store, stale, TaskRefusal.LeaseExpired);

        // ...leased to someone else...
        var current = await LeaseOneAsync(store);
        Assert.Equal((stale.TaskId, 2), (current.TaskId, current.Attempt));
        await AssertRefusedAsync(store, stale, TaskRefusal.UnknownLease);
        await AppendOkAsync(store, current, 0, Row("fresh"));
        await CompleteOkAsync(store, current);

        // ...and done.
        await AssertRefusedAsync(store, stale, TaskRefusal.TaskAlreadyCompleted);
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 1, 1), (status.Status, status.QueriesReady, status.QueriesTotal));
        AssertRows([Row("fresh")], status);
    }

    [Fact]
    public async Task LeaseExpiringOnTheLastAttemptFailsTheRunWithTaskLeaseExpired()
    {
        var store = NewStore(s => s.MaxAttempts = 2);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 3);
        var first = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("a1")]);

        await AdvanceAsync(store, TimeSpan.FromSeconds(30));
        var second = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));
        Assert.Equal((first.TaskId, 2), (second.TaskId, second.Attempt));
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, license, id)).Status);

        await AdvanceAsync(store, TimeSpan.FromSeconds(30));

        var status = await StatusAsync(store, license, id);
        AssertFailure(status, "TASK_LEASE_EXPIRED");
        Assert.Equal((1, 3, 0, 0, 0L), (status.QueriesReady, status.QueriesTotal, status.TasksScheduled, status.TasksRunning, status.TotalRows));
        Assert.Equal(Time.GetUtcNow() + Retention, status.ExpiresAt);
        Assert.Empty(await LeaseAsync(store, 10));
        await AssertRefusedAsync(store, second, TaskRefusal.QueryEnded, ScheduleStatus.Failure);
    }

    // ---- retries and Scheduler:MaxAttempts -----------------------------------------------------------

    [Fact]
    public async Task RetryableFailureRequeuesTheTaskFirstWithTheNextAttempt()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);
        var first = await LeaseOneAsync(store);

        var answer = await FailOkAsync(store, first, "DATA_SOURCE_ERROR", retryable: true);

        Assert.Equal((TaskState.Queued, 1), (answer.TaskState, answer.Attempt));
        Assert.Null(answer.LeaseExpiresAt);
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Running, 2, 0), (status.Status, status.TasksScheduled, status.TasksRunning));
        Assert.Null(status.Failure);
        var retry = await LeaseOneAsync(store);
        Assert.Equal((first.TaskId, "a0", 2), (retry.TaskId, Name(retry), retry.Attempt));
        await AssertRefusedAsync(store, first, TaskRefusal.UnknownLease);
    }

    [Fact]
    public async Task RetryableFailuresUpToMaxAttemptsFailTheRunWithTheLastCodeAndMessage()
    {
        var store = NewStore(s => s.MaxAttempts = 3);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 3);

        var states = new List<(TaskState?, int)>();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var task = await LeaseOneAsync(store);
            Assert.Equal(("a0", attempt), (Name(task), task.Attempt));
            var answer = await FailOkAsync(store, task, "WAREHOUSE_TIMEOUT", retryable: true, $"Timed out (try {attempt}).");
            states.Add((answer.TaskState, answer.Attempt));
        }

        Assert.Equal([(TaskState.Queued, 1), (TaskState.Queued, 2), (TaskState.Failed, 3)], states);
        var status = await StatusAsync(store, license, id);
        Assert.Equal(new Failure("WAREHOUSE_TIMEOUT", "Timed out (try 3)."), status.Failure);
        Assert.Equal((ScheduleStatus.Failure, 0, 0), (status.Status, status.TasksScheduled, status.TasksRunning));
        Assert.Empty(await LeaseAsync(store, 10));
    }

    [Fact]
    public async Task NonRetryableFailureFailsTheRunAtOnceAndDropsOnlyItsOwnTasks()
    {
        var store = NewStore();
        var (license, bystander) = (NewLicenseId(), NewLicenseId());
        var id = await SubmitOkAsync(store, license, "a", 5);
        var sameLicense = await SubmitOkAsync(store, license, "x", 1);
        var leased = await LeaseAsync(store, 2);
        Assert.Equal(["a0", "a1"], leased.Select(Name));
        var otherLicense = await SubmitOkAsync(store, bystander, "b", 1);
        await AppendOkAsync(store, leased[1], 0, Row("a1-staged"));

        var answer = await FailOkAsync(store, leased[0], "SYNTAX_ERROR", retryable: false, "Unknown column 'y'.");

        Assert.Equal((TaskState.Failed, 1), (answer.TaskState, answer.Attempt));
        var status = await StatusAsync(store, license, id);
        Assert.Equal(new Failure("SYNTAX_ERROR", "Unknown column 'y'."), status.Failure);
        Assert.Equal((ScheduleStatus.Failure, 0, 5, 0L), (status.Status, status.QueriesReady, status.QueriesTotal, status.TotalRows));
        await AssertRefusedAsync(store, leased[1], TaskRefusal.QueryEnded, ScheduleStatus.Failure);
        Assert.Equal(["b0", "x0"], (await LeaseNamesAsync(store, 10)).Order(StringComparer.Ordinal));
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, license, sameLicense)).Status);
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, bystander, otherLicense)).Status);
    }

    [Fact]
    public async Task ExpiredLeasesCountAsAttempts()
    {
        var store = NewStore(s => s.MaxAttempts = 2);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        await LeaseOneAsync(store, TimeSpan.FromSeconds(30));
        await AdvanceAsync(store, TimeSpan.FromSeconds(30));
        var second = await LeaseOneAsync(store);
        Assert.Equal(2, second.Attempt);

        var answer = await FailOkAsync(store, second, "FLAKY", retryable: true);

        Assert.Equal(TaskState.Failed, answer.TaskState);
        AssertFailure(await StatusAsync(store, license, id), "FLAKY");
    }

    [Fact]
    public async Task WithOneAttemptARetryableFailureIsNotRetried()
    {
        var store = NewStore(s => s.MaxAttempts = 1);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);

        await FailOkAsync(store, await LeaseOneAsync(store), "FLAKY", retryable: true);

        AssertFailure(await StatusAsync(store, license, id), "FLAKY");
        Assert.Empty(await LeaseAsync(store, 10));
    }

    // ---- exactly-once row batches --------------------------------------------------------------------

    [Fact]
    public async Task RepeatedBatchUnderTheSameLeaseIsAcknowledgedAndAddsNothing()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store);

        var first = await AppendAsync(store, task, 0, Row("b0-r0"), Row("b0-r1"));
        var repeat = await AppendAsync(store, task, 0, Row("b0-r0"), Row("b0-r1"));
        var repeatWithOtherRows = await AppendAsync(store, task, 0, Row("other"));

        Assert.Equal((WriteResult.Ok, 2L, TaskState.Running), (first.Result, first.RowsAccepted, first.TaskState));
        Assert.Equal((WriteResult.Duplicate, 0L, TaskState.Running), (repeat.Result, repeat.RowsAccepted, repeat.TaskState));
        Assert.Equal((WriteResult.Duplicate, 0L), (repeatWithOtherRows.Result, repeatWithOtherRows.RowsAccepted));
        await CompleteOkAsync(store, task);
        AssertRows([Row("b0-r0"), Row("b0-r1")], await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task BatchesEnterTheResultInBatchNumberOrderWhateverTheArrivalOrder()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store);

        // Numbers need not be dense; the complete call's rows come after every batch.
        foreach (var batch in new long[] { 1000, 7, 999_999_999_999, 0, 7 })
        {
            await AppendAsync(store, task, batch, Row($"b{batch}-r0"), Row($"b{batch}-r1"));
        }
        await CompleteOkAsync(store, task, [Row("last")]);

        AssertRows(
            [Row("b0-r0"), Row("b0-r1"), Row("b7-r0"), Row("b7-r1"), Row("b1000-r0"), Row("b1000-r1"),
             Row("b999999999999-r0"), Row("b999999999999-r1"), Row("last")],
            await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task TasksKeepSubQueryOrderInTheResultWhateverTheCompletionOrder()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "q", 3);
        var tasks = (await LeaseAsync(store, 3)).ToDictionary(Name);

        await AppendOkAsync(store, tasks["q1"], 1, Row("q1-b1"));
        await AppendOkAsync(store, tasks["q2"], 0, Row("q2-b0"));
        await AppendOkAsync(store, tasks["q1"], 0, Row("q1-b0"));
        await CompleteOkAsync(store, tasks["q2"], [Row("q2-c")]);
        await AppendOkAsync(store, tasks["q0"], 0, Row("q0-b0"));
        await CompleteOkAsync(store, tasks["q0"], [Row("q0-c")]);
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, license, id)).Status);
        await CompleteOkAsync(store, tasks["q1"]);

        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 3, 3, 6L), (status.Status, status.QueriesReady, status.QueriesTotal, status.TotalRows));
        AssertRows([Row("q0-b0"), Row("q0-c"), Row("q1-b0"), Row("q1-b1"), Row("q2-b0"), Row("q2-c")], status);
    }

    [Fact]
    public async Task RetriedTaskKeepsOnlyTheLastAttemptsRows()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var first = await LeaseOneAsync(store);
        await AppendOkAsync(store, first, 1, Row("first-1"));
        await AppendOkAsync(store, first, 0, Row("first-0"));
        await FailOkAsync(store, first, "FLAKY", retryable: true);

        var second = await LeaseOneAsync(store);
        // The same batch numbers are new under the new lease.
        var batch0 = await AppendAsync(store, second, 0, Row("second-0"));
        Assert.Equal((WriteResult.Ok, 1L), (batch0.Result, batch0.RowsAccepted));
        await AppendOkAsync(store, second, 2, Row("second-2"));
        await CompleteOkAsync(store, second, [Row("second-c")]);

        AssertRows([Row("second-0"), Row("second-2"), Row("second-c")], await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task RowsStagedUnderAnExpiredLeaseNeverReachTheResult()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);
        var a0 = await LeaseOneAsync(store, TimeSpan.FromSeconds(30));
        var a1 = await LeaseOneAsync(store);
        await AppendOkAsync(store, a0, 0, Row("lost-0"), Row("lost-1"));
        await AppendOkAsync(store, a1, 0, Row("a1-0"));

        await AdvanceAsync(store, TimeSpan.FromSeconds(30));
        var retry = await LeaseOneAsync(store);
        Assert.Equal((a0.TaskId, 2), (retry.TaskId, retry.Attempt));
        await AppendOkAsync(store, retry, 0, Row("a0-0"));
        await CompleteOkAsync(store, retry, [Row("a0-c")]);
        await CompleteOkAsync(store, a1, [Row("a1-c")]);

        AssertRows([Row("a0-0"), Row("a0-c"), Row("a1-0"), Row("a1-c")], await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task RepeatedCompletionWithTheSameTokenIsADuplicateAndChangesNothing()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);
        var task = await LeaseOneAsync(store);
        var first = await CompleteOkAsync(store, task, [Row("once")], [Sub("n")]);

        var repeat = await CompleteAsync(store, task, [Row("twice")], [Sub("m")]);

        Assert.Equal((TaskState.Done, 1), (first.TaskState, first.Attempt));
        Assert.Equal((WriteResult.Duplicate, TaskState.Done), (repeat.Result, repeat.TaskState));
        var status = await StatusAsync(store, license, id);
        Assert.Equal((1, 3), (status.QueriesReady, status.QueriesTotal));
        Assert.Equal(["a1", "n"], await LeaseNamesAsync(store, 10));
    }

    [Fact]
    public async Task CallsAfterTheTaskCompletedAreRefusedAndChangeNothing()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store);
        await AppendOkAsync(store, task, 1, Row("b1"));
        await CompleteOkAsync(store, task);

        AssertRefusal(TaskRefusal.TaskAlreadyCompleted, await AppendAsync(store, task, 0, Row("b0")));
        AssertRefusal(TaskRefusal.TaskAlreadyCompleted, await store.HeartbeatAsync(task.TaskId, task.LeaseToken, LongLease, None));
        AssertRefusal(TaskRefusal.TaskAlreadyCompleted, await FailAsync(store, task, "LATE", retryable: false));
        AssertRefusal(TaskRefusal.TaskAlreadyCompleted, await store.CompleteAsync(task.TaskId, "another-token", [Utf8(Row("other"))], [], None));

        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 1), (status.Status, status.QueriesTotal));
        AssertRows([Row("b1")], status);
    }

    // ---- complete with new sub-queries ---------------------------------------------------------------

    [Fact]
    public async Task DiscoveredSubQueriesJoinTheRunBehindTheTasksAlreadyWaiting()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);
        var a0 = await LeaseOneAsync(store);
        await SubmitOkAsync(store, license, "b", 1);

        var done = await CompleteOkAsync(store, a0, [Row("a0")], [Sub("n0"), Sub("n1")]);

        Assert.Equal(TaskState.Done, done.TaskState);
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Running, 1, 4, 4, 0), (status.Status, status.QueriesReady, status.QueriesTotal, status.TasksScheduled, status.TasksRunning));
        var next = await LeaseAsync(store, 10);
        Assert.Equal(["a1", "b0", "n0", "n1"], next.Select(Name));
        Assert.All(next, t => Assert.Equal(1, t.Attempt));
        Assert.Equal([id, id], next.Where(t => Name(t).StartsWith('n')).Select(t => t.ScheduleId));
    }

    [Fact]
    public async Task RunSucceedsOnlyOnceDiscoveredSubQueriesAreDoneAndTheirRowsFollowInCreationOrder()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("a0")], [Sub("n0"), Sub("n1")]);
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, license, id)).Status);

        var found = (await LeaseAsync(store, 2)).ToDictionary(Name);
        await CompleteOkAsync(store, found["n1"], [Row("n1")]);
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, license, id)).Status);
        await CompleteOkAsync(store, found["n0"], [Row("n0")]);

        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 3, 3), (status.Status, status.QueriesReady, status.QueriesTotal));
        AssertRows([Row("a0"), Row("n0"), Row("n1")], status);
    }

    // ---- Scheduler:MaxRowsPerRun ----------------------------------------------------------------------

    [Fact]
    public async Task StagedAndCommittedRowsMayReachMaxRowsPerRun()
    {
        var store = NewStore(s => s.MaxRowsPerRun = 5);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);
        var leased = await LeaseAsync(store, 2);

        await AppendOkAsync(store, leased[0], 0, Row("1"), Row("2"), Row("3"));
        await CompleteOkAsync(store, leased[1], [Row("4"), Row("5")]);
        await CompleteOkAsync(store, leased[0]);

        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 5L), (status.Status, status.TotalRows));
    }

    [Fact]
    public async Task RowsPastMaxRowsPerRunAreRefusedAndFailTheRunWithResultTooLarge()
    {
        var store = NewStore(s => s.MaxRowsPerRun = 5);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 3);
        var leased = await LeaseAsync(store, 3);
        await AppendOkAsync(store, leased[0], 0, Row("1"), Row("2"), Row("3"));
        await CompleteOkAsync(store, leased[1], [Row("4"), Row("5")]);

        AssertRefusal(TaskRefusal.ResultTooLarge, await AppendAsync(store, leased[2], 0, Row("6")));

        var status = await StatusAsync(store, license, id);
        AssertFailure(status, "RESULT_TOO_LARGE");
        Assert.Equal((0L, 0, 0), (status.TotalRows, status.TasksScheduled, status.TasksRunning));
        await AssertRefusedAsync(store, leased[0], TaskRefusal.QueryEnded, ScheduleStatus.Failure);
    }

    [Fact]
    public async Task CompletionWhoseRowsPassMaxRowsPerRunFailsTheRun()
    {
        var store = NewStore(s => s.MaxRowsPerRun = 5);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store);
        await AppendOkAsync(store, task, 0, Row("1"), Row("2"), Row("3"), Row("4"));

        AssertRefusal(TaskRefusal.ResultTooLarge, await CompleteAsync(store, task, [Row("5"), Row("6")]));

        AssertFailure(await StatusAsync(store, license, id), "RESULT_TOO_LARGE");
    }

    [Fact]
    public async Task ARepeatedBatchIsNotCountedAgainstMaxRowsPerRun()
    {
        var store = NewStore(s => s.MaxRowsPerRun = 2);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store);
        await AppendOkAsync(store, task, 0, Row("1"), Row("2"));

        Assert.Equal(WriteResult.Duplicate, (await AppendAsync(store, task, 0, Row("1"), Row("2"))).Result);

        await CompleteOkAsync(store, task);
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 2L), (status.Status, status.TotalRows));
    }

    // ---- Scheduler:MaxRunTime ------------------------------------------------------------------------

    [Fact]
    public async Task RunNotFinishedWithinMaxRunTimeFailsWithQueryTimeout()
    {
        var store = NewStore(s => s.MaxRunTime = TimeSpan.FromMinutes(10));
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 3);
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("a0")]);
        var running = await LeaseOneAsync(store);

        Assert.Equal(0, await AdvanceAsync(store, TimeSpan.FromMinutes(10) - OneTick));
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, license, id)).Status);

        Assert.Equal(0, await AdvanceAsync(store, OneTick));

        var status = await StatusAsync(store, license, id);
        AssertFailure(status, "QUERY_TIMEOUT");
        Assert.Equal((1, 3, 0L), (status.QueriesReady, status.QueriesTotal, status.TotalRows));
        Assert.Equal(Time.GetUtcNow() + Retention, status.ExpiresAt);
        await AssertRefusedAsync(store, running, TaskRefusal.QueryEnded, ScheduleStatus.Failure);
        Assert.Empty(await LeaseAsync(store, 10));
    }

    [Fact]
    public async Task RunTimeCountsFromSubmissionNotFromTheFirstLease()
    {
        var store = NewStore(s => s.MaxRunTime = TimeSpan.FromMinutes(10));
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);

        await AdvanceAsync(store, TimeSpan.FromMinutes(9));
        var task = await LeaseOneAsync(store);
        await AdvanceAsync(store, TimeSpan.FromMinutes(1));

        AssertRefusal(TaskRefusal.QueryEnded, await CompleteAsync(store, task, [Row("late")]), ScheduleStatus.Failure);
        AssertFailure(await StatusAsync(store, license, id), "QUERY_TIMEOUT");
    }

    [Fact]
    public async Task RunTimeOfAScheduledRunCountsFromItsStartTime()
    {
        var store = NewStore(s => s.MaxRunTime = TimeSpan.FromMinutes(10));
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1, Epoch + TimeSpan.FromHours(1));

        await AdvanceAsync(store, TimeSpan.FromHours(1));
        Assert.Equal(ScheduleStatus.Queued, (await StatusAsync(store, license, id)).Status);
        await AdvanceAsync(store, TimeSpan.FromMinutes(10) - OneTick);
        Assert.Equal(ScheduleStatus.Queued, (await StatusAsync(store, license, id)).Status);

        await AdvanceAsync(store, OneTick);

        AssertFailure(await StatusAsync(store, license, id), "QUERY_TIMEOUT");
        Assert.Empty(await LeaseAsync(store, 10));
    }

    // ---- the time step ---------------------------------------------------------------------------------

    [Fact]
    public async Task AReadAppliesNoDeadlineTheTimeStepDoes()
    {
        var store = NewStore(s => s.MaxRunTime = TimeSpan.FromMinutes(10));
        var license = NewLicenseId();
        var scheduled = await SubmitOkAsync(store, license, "s", 1, Epoch + TimeSpan.FromMinutes(5));
        var running = await SubmitOkAsync(store, license, "r", 1);
        var leased = await LeaseOneAsync(store, TimeSpan.FromMinutes(1));

        // Past the scheduled start, the lease and the run time: reads see the state as it was last stepped.
        Time.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(ScheduleStatus.Scheduled, (await StatusAsync(store, license, scheduled)).Status);
        var before = await StatusAsync(store, license, running);
        Assert.Equal((ScheduleStatus.Running, 1), (before.Status, before.TasksRunning));

        await store.RemoveExpiredAsync(None);

        // The step applies each deadline as of its due time: the scheduled run started at minute 5 and its run time
        // ended at minute 15; the running one's ended at minute 10.
        AssertFailure(await StatusAsync(store, license, scheduled), "QUERY_TIMEOUT");
        AssertFailure(await StatusAsync(store, license, running), "QUERY_TIMEOUT");
        Assert.Equal(Epoch + TimeSpan.FromMinutes(15) + Retention, (await StatusAsync(store, license, scheduled)).ExpiresAt);
        Assert.Equal(Epoch + TimeSpan.FromMinutes(10) + Retention, (await StatusAsync(store, license, running)).ExpiresAt);
        Assert.Equal(WriteResult.Conflict, (await store.HeartbeatAsync(leased.TaskId, leased.LeaseToken, TimeSpan.FromMinutes(1), None)).Result);
    }

    [Fact]
    public async Task ALeaseThatRanOutOnItsLastAttemptFailsTheRunAsOfItsEnd()
    {
        var store = NewStore(s => s.MaxAttempts = 1);
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        await LeaseOneAsync(store, TimeSpan.FromMinutes(2));

        await AdvanceAsync(store, TimeSpan.FromMinutes(7));

        var status = await StatusAsync(store, license, id);
        AssertFailure(status, "TASK_LEASE_EXPIRED");
        Assert.Equal(Epoch + TimeSpan.FromMinutes(2) + Retention, status.ExpiresAt);
    }

    [Fact]
    public async Task RetentionHoldsToTheInstantOnAReadWithoutAStep()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SucceedWithRowsAsync(store, license, [Row("x")]);

        Time.Advance(Retention - OneTick);
        Assert.NotNull(await store.GetStatusAsync(license, id, AllRows, None));

        Time.Advance(OneTick);
        Assert.Null(await store.GetStatusAsync(license, id, AllRows, None));
    }

    // ---- scheduled starts ----------------------------------------------------------------------------

    [Fact]
    public async Task RunWithAFutureStartTimeIsScheduledAndNotLeasableUntilThen()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = NewScheduleId();
        var outcome = await store.SubmitAsync(new SubmitCommand(license, id, Subs("a", 2), Epoch + TimeSpan.FromMinutes(30)), None);

        Assert.Equal(WriteResult.Ok, outcome.Result);
        Assert.NotNull(outcome.Status);
        // A scheduled run's tasks wait outside the license's queue.
        Assert.Equal((ScheduleStatus.Scheduled, 0, 2, 0, 0), (outcome.Status.Status, outcome.Status.QueriesReady, outcome.Status.QueriesTotal, outcome.Status.TasksScheduled, outcome.Status.TasksRunning));
        Assert.Null(outcome.Status.ExpiresAt);
        Assert.Empty(await LeaseAsync(store, 10));

        await AdvanceAsync(store, TimeSpan.FromMinutes(30) - OneTick);
        Assert.Equal(ScheduleStatus.Scheduled, (await StatusAsync(store, license, id)).Status);
        Assert.Empty(await LeaseAsync(store, 10));

        await AdvanceAsync(store, OneTick);
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Queued, 2), (status.Status, status.TasksScheduled));
        Assert.Equal(["a0", "a1"], await LeaseNamesAsync(store, 10));
    }

    [Fact]
    public async Task StartTimeNowOrInThePastQueuesTheRunAtOnce()
    {
        var store = NewStore();
        var license = NewLicenseId();

        var now = await store.SubmitAsync(new SubmitCommand(license, NewScheduleId(), Subs("n", 1), Epoch), None);
        var past = await store.SubmitAsync(new SubmitCommand(license, NewScheduleId(), Subs("p", 1), Epoch - TimeSpan.FromDays(1)), None);

        Assert.Equal(ScheduleStatus.Queued, now.Status?.Status);
        Assert.Equal(ScheduleStatus.Queued, past.Status?.Status);
        Assert.Equal(["n0", "p0"], await LeaseNamesAsync(store, 10));
    }

    [Fact]
    public async Task ScheduledRunRefusesASecondSubmitAndOnceStoppedNeverStarts()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2, Epoch + TimeSpan.FromMinutes(5));

        AssertRefusal(RunRefusal.RunNotFinished, await store.SubmitAsync(new SubmitCommand(license, id, Subs("b", 1), null), None), ScheduleStatus.Scheduled);
        var stop = await store.StopAsync(license, id, None);
        Assert.Equal((WriteResult.Ok, ScheduleStatus.Stopped), (stop.Result, stop.Status?.Status));

        await AdvanceAsync(store, TimeSpan.FromMinutes(5));

        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Stopped, 0), (status.Status, status.TasksScheduled));
        Assert.Empty(await LeaseAsync(store, 10));
    }

    // ---- expiry and retention ------------------------------------------------------------------------

    public enum Ending
    {
        Success,
        Stopped,
        TaskFailed,
        TimedOut,
        LastLeaseExpired,
        TooLarge,
    }

    [Theory]
    [InlineData(Ending.Success)]
    [InlineData(Ending.Stopped)]
    [InlineData(Ending.TaskFailed)]
    [InlineData(Ending.TimedOut)]
    [InlineData(Ending.LastLeaseExpired)]
    [InlineData(Ending.TooLarge)]
    public async Task FinishedRunIsReadableUntilItsRetentionEndsAndThenLeavesNothingAfterOneSweep(Ending ending)
    {
        var store = NewStore(s =>
        {
            s.MaxRunTime = ending == Ending.TimedOut ? TimeSpan.FromMinutes(5) : TimeSpan.FromHours(4);
            s.MaxAttempts = ending == Ending.LastLeaseExpired ? 1 : 3;
            s.MaxRowsPerRun = ending == Ending.TooLarge ? 3 : 1_000;
        });
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 3);
        var leased = await LeaseAsync(store, 3, TimeSpan.FromMinutes(1));
        foreach (var task in leased)
        {
            await HeartbeatOkAsync(store, task, TimeSpan.FromMinutes(1));
            await AppendOkAsync(store, task, 0, Row($"{Name(task)}-0"));
            Assert.Equal(WriteResult.Duplicate, (await AppendAsync(store, task, 0, Row($"{Name(task)}-0"))).Result);
        }
        await EndAsync(store, license, id, leased, ending);
        var finishedAt = Time.GetUtcNow();

        var finished = await StatusAsync(store, license, id);
        Assert.True(finished.Status.IsFinished(), $"{ending} left the run {finished.Status}.");
        Assert.Equal(finishedAt + Retention, finished.ExpiresAt);

        Assert.Equal(0, await AdvanceAsync(store, Retention - OneTick));
        Assert.Equal(finished.Status, (await StatusAsync(store, license, id)).Status);

        Assert.Equal(1, await AdvanceAsync(store, OneTick));

        Assert.Null(await store.GetStatusAsync(license, id, AllRows, None));
        Assert.Equal(default, store.Holdings());
        AssertRefusal(RunRefusal.ScheduleNotFound, await store.StopAsync(license, id, None));
        await AssertRefusedAsync(store, leased[0], TaskRefusal.TaskNotFound);
        Assert.Equal(0, await store.RemoveExpiredAsync(None));
    }

    [Fact]
    public async Task UnfinishedRunsOutliveTheRetention()
    {
        var store = NewStore(s => s.MaxRunTime = TimeSpan.FromDays(30), retention: TimeSpan.FromMinutes(1));
        var license = NewLicenseId();
        var finished = await SubmitOkAsync(store, license, "f", 1);
        var running = await SubmitOkAsync(store, license, "r", 1);
        var scheduled = await SubmitOkAsync(store, license, "s", 1, Epoch + TimeSpan.FromDays(20));
        await CompleteOkAsync(store, await LeaseOneAsync(store, TimeSpan.FromDays(29)));
        Assert.Equal("r0", Name(await LeaseOneAsync(store, TimeSpan.FromDays(29))));
        var queued = await SubmitOkAsync(store, license, "q", 1);

        // Only the finished run goes; the others end by finishing or by MaxRunTime, never by retention.
        Assert.Equal(1, await AdvanceAsync(store, TimeSpan.FromDays(10)));

        Assert.Null(await store.GetStatusAsync(license, finished, AllRows, None));
        foreach (var (id, status) in new[] { (running, ScheduleStatus.Running), (scheduled, ScheduleStatus.Scheduled), (queued, ScheduleStatus.Queued) })
        {
            var snapshot = await StatusAsync(store, license, id);
            Assert.Equal(status, snapshot.Status);
            Assert.Null(snapshot.ExpiresAt);
        }
    }

    [Fact]
    public async Task HoldingsAfterASweepCountOnlyWhatHasNotExpired()
    {
        var store = NewStore();
        var (expiring, staying) = (NewLicenseId(), NewLicenseId());
        await SubmitOkAsync(store, expiring, "e", 2);
        foreach (var task in await LeaseAsync(store, 2))
        {
            await CompleteOkAsync(store, task, [Row($"{Name(task)}-committed")]);
        }
        var stayingId = await SubmitOkAsync(store, staying, "s", 2);
        var s0 = await LeaseOneAsync(store);
        await AppendOkAsync(store, s0, 0, Row("staged-0"), Row("staged-1"));
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("s1-committed")]);
        var committedBytes = ByteCount(Row("e0-committed"), Row("e1-committed"));
        var stayingBytes = ByteCount(Row("staged-0"), Row("staged-1"), Row("s1-committed"));

        Assert.Equal(0, await store.RemoveExpiredAsync(None));
        Assert.Equal(new StoreHoldings(Schedules: 2, Tasks: 4, Rows: 5, RowBytes: committedBytes + stayingBytes, Licenses: 2), store.Holdings());

        Assert.Equal(1, await AdvanceAsync(store, Retention));

        Assert.Equal(new StoreHoldings(Schedules: 1, Tasks: 2, Rows: 3, RowBytes: stayingBytes, Licenses: 1), store.Holdings());
        Assert.Equal(ScheduleStatus.Running, (await StatusAsync(store, staying, stayingId)).Status);
    }

    [Fact]
    public async Task ARunThatEndsWithoutSuccessGivesItsRowsBackBeforeItExpires()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 2);
        var leased = await LeaseAsync(store, 2);
        await AppendOkAsync(store, leased[0], 0, Row("staged"));
        await CompleteOkAsync(store, leased[1], [Row("committed")]);

        await store.StopAsync(license, id, None);

        Assert.Equal(0, await store.RemoveExpiredAsync(None));
        Assert.Equal(new StoreHoldings(Schedules: 1, Tasks: 2, Rows: 0, RowBytes: 0, Licenses: 1), store.Holdings());
    }

    [Fact]
    public async Task SubmittingAgainAfterExpiryStartsAFreshRun()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "old", 1);
        await store.StopAsync(license, id, None);
        Assert.Equal(1, await AdvanceAsync(store, Retention));

        var again = await store.SubmitAsync(new SubmitCommand(license, id, Subs("new", 2), null), None);

        Assert.Equal((WriteResult.Ok, ScheduleStatus.Queued, 2), (again.Result, again.Status?.Status, again.Status?.QueriesTotal));
        Assert.Equal(["new0", "new1"], await LeaseNamesAsync(store, 10));
    }

    // ---- status snapshots and pages ------------------------------------------------------------------

    [Fact]
    public async Task UnknownScheduleAndAnotherLicensesScheduleReadAsNull()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);

        Assert.Null(await store.GetStatusAsync(license, NewScheduleId(), AllRows, None));
        Assert.Null(await store.GetStatusAsync(NewLicenseId(), id, AllRows, None));
        Assert.NotNull(await store.GetStatusAsync(license, id, AllRows, None));
    }

    [Fact]
    public async Task PagesServeTheFirstMiddleAndLastRowsAndNothingPastTheEnd()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var rows = Enumerable.Range(0, 25).Select(i => Row($"row-{i}")).ToArray();
        var id = await SucceedWithRowsAsync(store, license, rows);

        var first = await StatusAsync(store, license, id, new PageWindow(0, null, 10));
        var middle = await StatusAsync(store, license, id, new PageWindow(10, null, 10));
        var last = await StatusAsync(store, license, id, new PageWindow(20, null, 10));
        var atTheEnd = await StatusAsync(store, license, id, new PageWindow(25, null, 10));
        var pastTheEnd = await StatusAsync(store, license, id, new PageWindow(40, null, 10));
        var explicitEnd = await StatusAsync(store, license, id, new PageWindow(5, 8, 10));
        var capped = await StatusAsync(store, license, id, new PageWindow(3, 100, 4));

        Assert.All(new[] { first, middle, last, atTheEnd, pastTheEnd, explicitEnd, capped }, s => Assert.Equal(25, s.TotalRows));
        AssertRows(rows[..10], first);
        AssertRows(rows[10..20], middle);
        AssertRows(rows[20..], last);
        Assert.Equal((20L, 25L), (last.Page.Start, last.Page.End));
        AssertRows([], atTheEnd);
        AssertRows([], pastTheEnd);
        Assert.Equal((40L, 40L), (pastTheEnd.Page.Start, pastTheEnd.Page.End));
        AssertRows(rows[5..8], explicitEnd);
        AssertRows(rows[3..7], capped);
    }

    [Fact]
    public async Task AnEmptyWindowAnywhereInTheResultServesNoRows()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SucceedWithRowsAsync(store, license, [.. Enumerable.Range(0, 5).Select(i => Row($"row-{i}"))]);

        foreach (var at in new long[] { 0, 1, 4, 5, 9 })
        {
            var empty = await StatusAsync(store, license, id, new PageWindow(at, at, 10));
            Assert.Equal((5L, at, at), (empty.TotalRows, empty.Page.Start, empty.Page.End));
            AssertRows([], empty);
        }
    }

    [Fact]
    public async Task TenThousandRowsComeBackByteForByte()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var rows = Enumerable.Range(0, 10_000)
            .Select(i => $"{{\"n\":{i},\"pad\":\"{new string((char)('a' + i % 26), i % 97)}\"}}")
            .ToArray();
        var id = NewScheduleId();
        await store.SubmitAsync(new SubmitCommand(license, id, Subs("a", 1), null), None);
        var task = await LeaseOneAsync(store);
        foreach (var batch in new[] { 3, 1, 0, 2 })
        {
            await AppendOkAsync(store, task, batch, rows[(batch * 2_500)..((batch + 1) * 2_500)]);
        }
        await CompleteOkAsync(store, task);

        var all = await StatusAsync(store, license, id, new PageWindow(0, null, 10_000));
        var middle = await StatusAsync(store, license, id, new PageWindow(4_990, 5_010, 10_000));
        var last = await StatusAsync(store, license, id, new PageWindow(9_990, null, 100));
        var past = await StatusAsync(store, license, id, new PageWindow(10_000, null, 100));

        Assert.Equal(10_000, all.TotalRows);
        AssertRows(rows, all);
        AssertRows(rows[4_990..5_010], middle);
        AssertRows(rows[9_990..], last);
        AssertRows([], past);
    }

    [Fact]
    public async Task RowsComeBackExactlyAsTheWorkerSentThem()
    {
        var store = NewStore();
        var license = NewLicenseId();
        string[] rows =
        [
            """{ "spaced" : [ 1 , 2 ] }""",
            """{"unicode":"zürich ✓ 😀","escaped":"\u00fc\"\\\/\n"}""",
            """{"n":1.50,"e":1E+3,"neg":-0}""",
            """[1,"two",null,true]""",
            "\"just a string\"",
            "42",
        ];

        var id = await SucceedWithRowsAsync(store, license, rows);

        AssertRows(rows, await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task UnfinishedAndFailedRunsServeNoRows()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var running = await SubmitOkAsync(store, license, "r", 2);
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("committed")]);
        var failed = await SubmitOkAsync(store, license, "f", 2);
        var f0 = (await LeaseAsync(store, 10)).Single(t => Name(t) == "f0");
        await AppendOkAsync(store, f0, 0, Row("staged"));
        await FailOkAsync(store, f0, "BROKEN", retryable: false);

        foreach (var id in new[] { running, failed })
        {
            var status = await StatusAsync(store, license, id, new PageWindow(0, null, 100));
            Assert.Equal(0, status.TotalRows);
            AssertRows([], status);
        }
    }

    [Fact]
    public async Task APageAlreadyReadKeepsItsRowsWhenTheRunIsReplaced()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SucceedWithRowsAsync(store, license, [Row("old-0"), Row("old-1")]);
        var before = await StatusAsync(store, license, id);

        await store.SubmitAsync(new SubmitCommand(license, id, Subs("new", 1), null), None);
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("new-0")]);

        AssertRows([Row("old-0"), Row("old-1")], before);
        AssertRows([Row("new-0")], await StatusAsync(store, license, id));
    }

    // ---- put, ping, provider -------------------------------------------------------------------------

    [Fact]
    public async Task PutStoresAWholeScheduleAndReplacesAnEarlierOne()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = NewScheduleId();
        var rows = new RowBuffer();
        foreach (var row in new[] { Row("p0"), Row("p1"), Row("p2") })
        {
            rows.Append(Encoding.UTF8.GetBytes(row));
        }

        await store.PutAsync(new ScheduleRecord(id, license, ScheduleStatus.Success, [SubQueryState.Done, SubQueryState.Done], rows, null, Epoch - TimeSpan.FromMinutes(4)), None);

        var success = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 2, 2, 3L), (success.Status, success.QueriesReady, success.QueriesTotal, success.TotalRows));
        Assert.Equal(Epoch - TimeSpan.FromMinutes(4) + Retention, success.ExpiresAt);
        AssertRows([Row("p0"), Row("p1"), Row("p2")], success);

        await store.PutAsync(new ScheduleRecord(id, license, ScheduleStatus.Queued, [SubQueryState.Queued, SubQueryState.Queued], RowBuffer.Empty, null, null), None);

        var queued = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Queued, 0, 2, 0L, 2), (queued.Status, queued.QueriesReady, queued.QueriesTotal, queued.TotalRows, queued.TasksScheduled));
        var leased = await LeaseAsync(store, 10);
        Assert.Equal(2, leased.Count);
        Assert.All(leased, t => Assert.Equal((id, license, 1), (t.ScheduleId, t.LicenseId, t.Attempt)));
    }

    [Fact]
    public async Task PutKeepsItsOwnCopyOfTheRows()
    {
        var store = NewStore();
        var (license, id) = (NewLicenseId(), NewScheduleId());
        var rows = new RowBuffer();
        rows.Append(Encoding.UTF8.GetBytes(Row("p0")));
        rows.Append(Encoding.UTF8.GetBytes(Row("p1")));

        await store.PutAsync(new ScheduleRecord(id, license, ScheduleStatus.Success, [SubQueryState.Done], rows, null, Epoch), None);
        var before = await StatusAsync(store, license, id);
        rows.Append(Encoding.UTF8.GetBytes(Row("later")));

        var after = await StatusAsync(store, license, id);
        Assert.Equal((2L, 2L), (before.TotalRows, after.TotalRows));
        AssertRows([Row("p0"), Row("p1")], before);
        AssertRows([Row("p0"), Row("p1")], after);
        Assert.Equal(3, rows.Count);
    }

    [Fact]
    public async Task PutOfASuccessWithRowsButNoSubQueriesServesItsRows()
    {
        var store = NewStore();
        var (license, id) = (NewLicenseId(), NewScheduleId());
        var rows = new RowBuffer();
        rows.Append(Encoding.UTF8.GetBytes(Row("s0")));
        rows.Append(Encoding.UTF8.GetBytes(Row("s1")));

        await store.PutAsync(new ScheduleRecord(id, license, ScheduleStatus.Success, [], rows, null, Epoch), None);

        var status = await StatusAsync(store, license, id);
        Assert.Equal((0, 0, 2L), (status.QueriesReady, status.QueriesTotal, status.TotalRows));
        AssertRows([Row("s0"), Row("s1")], status);
    }

    [Fact]
    public async Task PutRejectsAnInconsistentScheduleAndStoresNothing()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = NewScheduleId();
        var inconsistent = new ScheduleRecord(id, license, ScheduleStatus.Success, [SubQueryState.Done, SubQueryState.Running], RowBuffer.Empty, null, null);

        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await store.PutAsync(inconsistent, None));

        Assert.Equal("schedule", error.ParamName);
        Assert.Null(await store.GetStatusAsync(license, id, AllRows, None));
    }

    [Fact]
    public async Task PutFinishedScheduleExpiresAtItsFinishedTimePlusRetention()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var old = NewScheduleId();
        var recent = NewScheduleId();
        await store.PutAsync(new ScheduleRecord(old, license, ScheduleStatus.Failure, [SubQueryState.Done], RowBuffer.Empty,
            new Failure("BROKEN", "It broke."), Epoch - Retention), None);
        await store.PutAsync(new ScheduleRecord(recent, license, ScheduleStatus.Stopped, [SubQueryState.Done], RowBuffer.Empty,
            null, Epoch - TimeSpan.FromMinutes(1)), None);

        Assert.Equal(1, await store.RemoveExpiredAsync(None));

        Assert.Null(await store.GetStatusAsync(license, old, AllRows, None));
        Assert.Equal(Epoch - TimeSpan.FromMinutes(1) + Retention, (await StatusAsync(store, license, recent)).ExpiresAt);
        Assert.Equal(1, await AdvanceAsync(store, Retention - TimeSpan.FromMinutes(1)));
        Assert.Equal(default, store.Holdings());
    }

    [Fact]
    public async Task TimesGivenInAnyOffsetAreTheSameInstants()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var finishedAt = (Epoch - TimeSpan.FromMinutes(1)).ToOffset(TimeSpan.FromHours(2));
        var startAt = (Epoch + TimeSpan.FromMinutes(5)).ToOffset(TimeSpan.FromHours(-5));
        var stopped = NewScheduleId();
        await store.PutAsync(new ScheduleRecord(stopped, license, ScheduleStatus.Stopped, [SubQueryState.Done], RowBuffer.Empty,
            null, finishedAt), None);
        var scheduled = await SubmitOkAsync(store, license, "s", 1, startAt);

        Assert.Equal(finishedAt + Retention, (await StatusAsync(store, license, stopped)).ExpiresAt);
        await AdvanceAsync(store, TimeSpan.FromMinutes(5) - OneTick);
        Assert.Equal(ScheduleStatus.Scheduled, (await StatusAsync(store, license, scheduled)).Status);
        await AdvanceAsync(store, OneTick);
        Assert.Equal(ScheduleStatus.Queued, (await StatusAsync(store, license, scheduled)).Status);
    }

    [Fact]
    public async Task PingSucceedsAndTheProviderHasAName()
    {
        var store = NewStore();

        await store.PingAsync(None);

        Assert.False(string.IsNullOrWhiteSpace(store.Provider));
    }

    // ---- concurrency ---------------------------------------------------------------------------------

    [Fact]
    public async Task ConcurrentStatusReadsEachGetTheirOwnScheduleAndPage()
    {
        var store = NewStore();
        var (license, other) = (NewLicenseId(), NewLicenseId());
        var rows = Enumerable.Range(0, 30).Select(i => Row($"row-{i}")).ToArray();
        var succeeded = await SucceedWithRowsAsync(store, license, rows);
        var queued = await SubmitOkAsync(store, license, "q", 2);
        var elsewhere = await SubmitOkAsync(store, other, "e", 3);
        var missing = NewScheduleId();

        // Reads of different schedules, licenses and windows at once: however a store groups them, each gets its own.
        var reads = Enumerable.Range(0, 120).Select(i => (i % 6) switch
        {
            0 => (license, succeeded, new PageWindow(i % 30, null, 7)),
            1 => (license, succeeded, new PageWindow(0, null, 10_000)),
            2 => (license, queued, new PageWindow(i % 5, null, 10)),
            3 => (other, elsewhere, AllRows),
            4 => (license, missing, AllRows),
            _ => (other, succeeded, AllRows),
        }).ToArray();
        var snapshots = await Task.WhenAll(reads.Select(r => Task.Run(async () =>
            await store.GetStatusAsync(r.Item1, r.Item2, r.Item3, None)))).WaitAsync(HangGuard);

        for (var i = 0; i < reads.Length; i++)
        {
            var (readLicense, id, window) = reads[i];
            var snapshot = snapshots[i];
            if (id == missing || (readLicense == other && id == succeeded))
            {
                Assert.Null(snapshot);
                continue;
            }
            Assert.NotNull(snapshot);
            Assert.Equal(id, snapshot.ScheduleId);
            if (id == succeeded)
            {
                var (start, end) = window.Resolve(rows.Length);
                Assert.Equal((ScheduleStatus.Success, 30L, start, end), (snapshot.Status, snapshot.TotalRows, snapshot.Page.Start, snapshot.Page.End));
                AssertRows(rows[(int)start..(int)end], snapshot);
            }
            else
            {
                Assert.Equal(ScheduleStatus.Queued, snapshot.Status);
                Assert.Equal(id == queued ? 2 : 3, snapshot.QueriesTotal);
                AssertRows([], snapshot);
            }
        }
    }

    [Fact]
    public async Task ConcurrentLeasersNeverReceiveTheSameTask()
    {
        const int licenses = 6;
        const int tasksPerRun = 25;
        var store = NewStore();
        for (var l = 0; l < licenses; l++)
        {
            var license = NewLicenseId();
            await SubmitOkAsync(store, license, $"l{l}a", tasksPerRun);
            await SubmitOkAsync(store, license, $"l{l}b", tasksPerRun);
        }

        // Nothing returns to a queue (no time passes, nothing fails), so an empty answer means the queues are drained.
        var leasers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var mine = new List<string>();
            while (true)
            {
                var leased = await store.LeaseAsync(new LeaseCommand($"w{w}", 1 + w % 4, LongLease), TimeSpan.Zero, None);
                if (leased.Count == 0)
                {
                    return mine;
                }
                mine.AddRange(leased.Select(t => t.TaskId));
            }
        }));
        var all = (await Task.WhenAll(leasers).WaitAsync(HangGuard)).SelectMany(ids => ids).ToList();

        Assert.Equal(licenses * 2 * tasksPerRun, all.Count);
        Assert.Equal(all.Count, all.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task ARepeatedBatchSentConcurrentlyIsAcceptedOnce()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Task.Run(() => AppendAsync(store, task, 0, Row($"from-{i}-0"), Row($"from-{i}-1")))));

        var winner = Assert.Single(Enumerable.Range(0, 8), i => answers[i].Result == WriteResult.Ok);
        Assert.Equal(7, answers.Count(a => a.Result == WriteResult.Duplicate));
        await CompleteOkAsync(store, task);
        AssertRows([Row($"from-{winner}-0"), Row($"from-{winner}-1")], await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task BatchesOfOneRunWrittenAtOnceAllCount()
    {
        var (store, license, id, leased, answers) = await EightBatchesOfThreeAtOnceAsync(maxRowsPerRun: 24);

        Assert.All(answers, a => Assert.Equal((WriteResult.Ok, 3L), (a.Result, a.RowsAccepted)));
        foreach (var task in leased)
        {
            await CompleteOkAsync(store, task);
        }
        var status = await StatusAsync(store, license, id);
        Assert.Equal((ScheduleStatus.Success, 24L), (status.Status, status.TotalRows));
    }

    [Fact]
    public async Task BatchesOfOneRunWrittenAtOnceNeverPassMaxRowsPerRun()
    {
        var (store, license, id, _, answers) = await EightBatchesOfThreeAtOnceAsync(maxRowsPerRun: 10);

        // Whichever came first, at most three batches fit; the one that did not failed the run, and the rest found it ended.
        Assert.InRange(answers.Count(a => a.Result == WriteResult.Ok), 0, 3);
        Assert.Single(answers, a => a.Refusal == TaskRefusal.ResultTooLarge);
        Assert.All(answers.Where(a => a.Result != WriteResult.Ok && a.Refusal != TaskRefusal.ResultTooLarge),
            a => Assert.Equal(TaskRefusal.QueryEnded, a.Refusal));
        AssertFailure(await StatusAsync(store, license, id), "RESULT_TOO_LARGE");
    }

    /// <summary>One run of eight sub-queries, all leased, each sending a batch of three rows at the same time.</summary>
    private async Task<(IScheduleStore Store, string License, string Id, IReadOnlyList<LeasedTask> Leased, TaskOutcome[] Answers)>
        EightBatchesOfThreeAtOnceAsync(int maxRowsPerRun)
    {
        var store = NewStore(s => { s.DefaultMaxConcurrentTasks = 8; s.MaxRowsPerRun = maxRowsPerRun; });
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 8);
        var leased = await LeaseAsync(store, 8);
        var answers = await Task.WhenAll(leased.Select((task, i) =>
            Task.Run(() => AppendAsync(store, task, 0, Row($"{i}-0"), Row($"{i}-1"), Row($"{i}-2")))));
        return (store, license, id, leased, answers);
    }

    [Fact]
    public async Task ACompletionSentConcurrentlyIsAppliedOnce()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = await SubmitOkAsync(store, license, "a", 1);
        var task = await LeaseOneAsync(store);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            Task.Run(() => CompleteAsync(store, task, [Row("a0")], [Sub("n0")]))));

        Assert.Single(answers, a => a.Result == WriteResult.Ok);
        Assert.Equal(7, answers.Count(a => a.Result == WriteResult.Duplicate));
        var grown = await StatusAsync(store, license, id);
        Assert.Equal((1, 2), (grown.QueriesReady, grown.QueriesTotal));
        await CompleteOkAsync(store, await LeaseOneAsync(store), [Row("n0")]);
        Assert.Empty(await LeaseAsync(store, 10));
        AssertRows([Row("a0"), Row("n0")], await StatusAsync(store, license, id));
    }

    [Fact]
    public async Task ConcurrentSubmitsOfOneScheduleStartOneRun()
    {
        var store = NewStore();
        var license = NewLicenseId();
        var id = NewScheduleId();

        var answers = await Task.WhenAll(Enumerable.Range(1, 8).Select(n =>
            Task.Run(async () => await store.SubmitAsync(new SubmitCommand(license, id, Subs($"v{n}-", n), null), None))));

        var winner = Assert.Single(answers, a => a.Result == WriteResult.Ok);
        Assert.Equal(7, answers.Count(a => a.Result == WriteResult.Conflict));
        Assert.Equal(winner.Status?.QueriesTotal, (await StatusAsync(store, license, id)).QueriesTotal);
        Assert.Equal(winner.Status?.QueriesTotal, (await LeaseAsync(store, 100)).Count);
    }

    [Fact]
    public async Task ManyLeasersAndWritersAtOnceLeaseEachTaskOnceAndKeepEveryRowExactlyOnce()
    {
        const int licenseCount = 4;
        const int runsPerLicense = 10;
        const int initialTasks = 4;
        const int limit = 3;
        const int totalTasks = licenseCount * runsPerLicense * (initialTasks + 1); // q0 discovers one more
        var store = NewStore(s => s.DefaultMaxConcurrentTasks = limit);
        var licenses = Enumerable.Range(0, licenseCount).Select(_ => NewLicenseId()).ToArray();
        var runs = licenses.SelectMany(l => Enumerable.Range(0, runsPerLicense).Select(_ => (License: l, Id: NewScheduleId()))).ToArray();

        var completed = 0;
        var leaseCount = 0;
        var live = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var running = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var problems = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();

        void Problem(string problem)
        {
            problems.Enqueue(problem);
            stop.Cancel();
        }

        // Two submitters race the workers, half the runs each.
        var submitters = Enumerable.Range(0, 2).Select(part => Task.Run(async () =>
        {
            foreach (var (license, id) in runs.Where((_, i) => i % 2 == part))
            {
                var payloads = Enumerable.Range(0, initialTasks).Select(q => Utf8(Payload(id, q))).ToList();
                var outcome = await store.SubmitAsync(new SubmitCommand(license, id, payloads, null), None);
                if (outcome.Result != WriteResult.Ok)
                {
                    Problem($"submit of {id} answered {outcome.Result}");
                }
            }
        }));

        var workers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            while (Volatile.Read(ref completed) < totalTasks && !stop.IsCancellationRequested)
            {
                var leased = await store.LeaseAsync(new LeaseCommand($"w{w}", 1 + w % 3, LongLease), TimeSpan.Zero, None);
                if (leased.Count == 0)
                {
                    await Task.Yield();
                    continue;
                }
                foreach (var task in leased)
                {
                    Interlocked.Increment(ref leaseCount);
                    if (!live.TryAdd(task.TaskId, true))
                    {
                        Problem($"task {task.TaskId} was leased while its lease was live");
                    }
                    // Counted after the store's lease and released before its completion, so this count never exceeds the store's.
                    if (running.AddOrUpdate(task.LicenseId, 1, (_, n) => n + 1) > limit)
                    {
                        Problem($"license {task.LicenseId} ran more than {limit} tasks");
                    }
                    var (run, q) = ParsePayload(task);
                    Expect(WriteResult.Ok, await AppendAsync(store, task, 1, ResultRows(run, q, 1)), task);
                    Expect(WriteResult.Ok, await AppendAsync(store, task, 0, ResultRows(run, q, 0)), task);
                    Expect(WriteResult.Duplicate, await AppendAsync(store, task, 0, ResultRows(run, q, 0)), task);
                    running.AddOrUpdate(task.LicenseId, 0, (_, n) => n - 1);
                    string[] discovered = q == 0 ? [Payload(run, initialTasks)] : [];
                    Expect(WriteResult.Ok, await CompleteAsync(store, task, [ResultRow(run, q, "c", 0)], discovered), task);
                    live.TryRemove(task.TaskId, out _);
                    Interlocked.Increment(ref completed);
                }
            }
        }));

        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(async () =>
        {
            var i = r;
            while (Volatile.Read(ref completed) < totalTasks && !stop.IsCancellationRequested)
            {
                var (license, id) = runs[i++ % runs.Length];
                if (await store.GetStatusAsync(license, id, new PageWindow(0, null, 7), None) is { } snapshot
                    && !(snapshot.QueriesReady <= snapshot.QueriesTotal
                        && snapshot.Status is ScheduleStatus.Queued or ScheduleStatus.Running or ScheduleStatus.Success
                        && (snapshot.Status == ScheduleStatus.Success) == (snapshot.TotalRows > 0)
                        && snapshot.Page.Count == Math.Min(7, snapshot.TotalRows)))
                {
                    Problem($"{id} read inconsistent: {snapshot.Status} {snapshot.QueriesReady}/{snapshot.QueriesTotal}, {snapshot.TotalRows} rows, page {snapshot.Page.Count}");
                }
                await Task.Yield();
            }
        }));

        void Expect(WriteResult expected, TaskOutcome outcome, LeasedTask task)
        {
            if (outcome.Result != expected)
            {
                Problem($"task {task.TaskId}: expected {expected}, got {outcome.Result} ({outcome.Refusal})");
            }
        }

        await Task.WhenAll(submitters.Concat(workers).Concat(readers)).WaitAsync(HangGuard);

        Assert.Empty(problems);
        Assert.Equal(totalTasks, completed);
        Assert.Equal(totalTasks, leaseCount);
        foreach (var (license, id) in runs)
        {
            var status = await StatusAsync(store, license, id);
            Assert.Equal((ScheduleStatus.Success, initialTasks + 1, initialTasks + 1), (status.Status, status.QueriesReady, status.QueriesTotal));
            var expected = Enumerable.Range(0, initialTasks + 1)
                .SelectMany(q => ResultRows(id, q, 0).Concat(ResultRows(id, q, 1)).Append(ResultRow(id, q, "c", 0)))
                .ToArray();
            AssertRows(expected, status);
        }
        Assert.Empty(await LeaseAsync(store, 100));
        Assert.Equal(0, await store.RemoveExpiredAsync(None));
        var held = store.Holdings();
        Assert.Equal((runs.Length, totalTasks, totalTasks * 5L, licenseCount), (held.Schedules, held.Tasks, held.Rows, held.Licenses));

        static string Payload(string run, int q) => $"{{\"run\":\"{run}\",\"q\":{q}}}";

        static (string Run, int Q) ParsePayload(LeasedTask task)
        {
            using var json = JsonDocument.Parse(task.Payload);
            return (json.RootElement.GetProperty("run").GetString()!, json.RootElement.GetProperty("q").GetInt32());
        }

        static string ResultRow(string run, int q, string part, int r) => $"{{\"run\":\"{run}\",\"q\":{q},\"part\":\"{part}\",\"r\":{r}}}";

        static string[] ResultRows(string run, int q, int batch) => [ResultRow(run, q, $"b{batch}", 0), ResultRow(run, q, $"b{batch}", 1)];
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private IScheduleStore NewStore(Action<SchedulerOptions>? scheduler = null, LicensesOptions? licenses = null, TimeSpan? retention = null)
    {
        // Every limit is set here rather than taken from the defaults, so a change of default cannot change the contract.
        var options = new SchedulerOptions
        {
            DefaultMaxConcurrentTasks = 1_000,
            MaxAttempts = 3,
            MaxRunTime = TimeSpan.FromHours(4),
            MaxRowsPerRun = 1_000_000,
        };
        scheduler?.Invoke(options);
        var store = CreateStore(new StoreFixtureOptions(Time, new StoreOptions { Retention = retention ?? Retention }, options, licenses ?? []));
        _stores.Add(store);
        return store;
    }

    /// <summary>Ends a run whose three tasks are leased (each with one staged batch) the way <paramref name="ending"/> says.</summary>
    private async Task EndAsync(IScheduleStore store, string license, string id, IReadOnlyList<LeasedTask> leased, Ending ending)
    {
        switch (ending)
        {
            case Ending.Success:
                foreach (var task in leased)
                {
                    await CompleteOkAsync(store, task, [Row($"{Name(task)}-c")]);
                }
                Assert.Equal(6, (await StatusAsync(store, license, id)).TotalRows);
                break;
            case Ending.Stopped:
                await CompleteOkAsync(store, leased[0]);
                Assert.Equal(WriteResult.Ok, (await store.StopAsync(license, id, None)).Result);
                break;
            case Ending.TaskFailed:
                await FailOkAsync(store, leased[1], "BROKEN", retryable: false);
                break;
            case Ending.TimedOut:
                await AdvanceAsync(store, TimeSpan.FromMinutes(5));
                break;
            case Ending.LastLeaseExpired:
                await AdvanceAsync(store, TimeSpan.FromMinutes(1));
                break;
            case Ending.TooLarge:
                AssertRefusal(TaskRefusal.ResultTooLarge, await AppendAsync(store, leased[0], 1, Row("one too many")));
                break;
        }
    }

    private async Task<int> AdvanceAsync(IScheduleStore store, TimeSpan by)
    {
        Time.Advance(by);
        return await store.RemoveExpiredAsync(None);
    }

    private static async Task<string> SucceedWithRowsAsync(IScheduleStore store, string license, string[] rows)
    {
        var id = await SubmitOkAsync(store, license, "only", 1);
        await CompleteOkAsync(store, await LeaseOneAsync(store), rows);
        Assert.Equal(ScheduleStatus.Success, (await StatusAsync(store, license, id)).Status);
        return id;
    }

    private static string NewLicenseId() => $"lic_{Guid.NewGuid():N}";

    private static string NewScheduleId() => $"s_{Guid.NewGuid():N}";

    private static ReadOnlyMemory<byte> Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static ReadOnlyMemory<byte> Sub(string name) => Utf8($"{{\"q\":\"{name}\"}}");

    private static ReadOnlyMemory<byte>[] Subs(string prefix, int count) => [.. Enumerable.Range(0, count).Select(i => Sub($"{prefix}{i}"))];

    private static string Name(LeasedTask task)
    {
        using var json = JsonDocument.Parse(task.Payload);
        return json.RootElement.GetProperty("q").GetString()!;
    }

    private static string Row(string tag) => $"{{\"r\":\"{tag}\"}}";

    private static ReadOnlyMemory<byte>[] Rows(string[] rows) => [.. rows.Select(Utf8)];

    private static long ByteCount(params string[] rows) => rows.Sum(r => (long)Encoding.UTF8.GetByteCount(r));

    private static async Task<string> SubmitOkAsync(IScheduleStore store, string license, string prefix, int count, DateTimeOffset? notBefore = null)
    {
        var id = NewScheduleId();
        var outcome = await store.SubmitAsync(new SubmitCommand(license, id, Subs(prefix, count), notBefore), None);
        if (outcome.Result != WriteResult.Ok)
        {
            Assert.Fail($"Submit answered {outcome.Result}: {outcome.Refusal}");
        }
        return id;
    }

    private static async Task<IReadOnlyList<LeasedTask>> LeaseAsync(IScheduleStore store, int maxTasks = 1, TimeSpan? lease = null) =>
        await store.LeaseAsync(new LeaseCommand("worker", maxTasks, lease ?? LongLease), TimeSpan.Zero, None);

    private static async Task<LeasedTask> LeaseOneAsync(IScheduleStore store, TimeSpan? lease = null) =>
        Assert.Single(await LeaseAsync(store, 1, lease));

    private static async Task<string[]> LeaseNamesAsync(IScheduleStore store, int maxTasks) =>
        [.. (await LeaseAsync(store, maxTasks)).Select(Name)];

    private static async Task<StatusSnapshot> StatusAsync(IScheduleStore store, string license, string id, PageWindow? window = null) =>
        await store.GetStatusAsync(license, id, window ?? AllRows, None)
        ?? throw new Xunit.Sdk.XunitException($"Schedule {id} of {license} was not found.");

    private static async Task<TaskOutcome> AppendAsync(IScheduleStore store, LeasedTask task, long batch, params string[] rows) =>
        await store.AppendRowsAsync(task.TaskId, task.LeaseToken, batch, Rows(rows), None);

    private static async Task<TaskOutcome> CompleteAsync(IScheduleStore store, LeasedTask task, string[]? rows = null, string[]? subQueries = null) =>
        await store.CompleteAsync(task.TaskId, task.LeaseToken, Rows(rows ?? []), [.. (subQueries ?? []).Select(Utf8)], None);

    private static async Task<TaskOutcome> CompleteAsync(IScheduleStore store, LeasedTask task, string[] rows, ReadOnlyMemory<byte>[] subQueries) =>
        await store.CompleteAsync(task.TaskId, task.LeaseToken, Rows(rows), subQueries, None);

    private static async Task<TaskOutcome> FailAsync(IScheduleStore store, LeasedTask task, string code, bool retryable, string message = "It broke.") =>
        await store.FailAsync(task.TaskId, task.LeaseToken, new TaskFailure(code, message, retryable), None);

    private static async Task<TaskOutcome> AppendOkAsync(IScheduleStore store, LeasedTask task, long batch, params string[] rows)
    {
        var outcome = AssertOk(await AppendAsync(store, task, batch, rows));
        Assert.Equal(rows.Length, outcome.RowsAccepted);
        return outcome;
    }

    private static async Task<TaskOutcome> CompleteOkAsync(IScheduleStore store, LeasedTask task, string[]? rows = null, ReadOnlyMemory<byte>[]? subQueries = null) =>
        AssertOk(await CompleteAsync(store, task, rows ?? [], subQueries ?? []));

    private static async Task<TaskOutcome> FailOkAsync(IScheduleStore store, LeasedTask task, string code, bool retryable, string message = "It broke.") =>
        AssertOk(await FailAsync(store, task, code, retryable, message));

    private static async Task<TaskOutcome> HeartbeatOkAsync(IScheduleStore store, LeasedTask task, TimeSpan duration) =>
        AssertOk(await store.HeartbeatAsync(task.TaskId, task.LeaseToken, duration, None));

    private static TaskOutcome AssertOk(TaskOutcome outcome)
    {
        if (outcome.Result != WriteResult.Ok)
        {
            Assert.Fail($"Expected Ok, got {outcome.Result}: {outcome.Refusal}");
        }
        return outcome;
    }

    /// <summary>
    /// A refusal says why, as a code the HTTP layer words, with the run's status where the wording names it. Only the two
    /// "no such" codes are NotFound; every other refusal is a Conflict.
    /// </summary>
    private static void AssertRefusal(TaskRefusal expected, TaskOutcome outcome, ScheduleStatus? runStatus = null)
    {
        var result = expected == TaskRefusal.TaskNotFound ? WriteResult.NotFound : WriteResult.Conflict;
        Assert.Equal((result, expected, runStatus), (outcome.Result, outcome.Refusal, outcome.RunStatus));
        Assert.Null(outcome.TaskState);
    }

    private static void AssertRefusal(RunRefusal expected, WriteOutcome outcome, ScheduleStatus? runStatus = null)
    {
        var result = expected == RunRefusal.ScheduleNotFound ? WriteResult.NotFound : WriteResult.Conflict;
        Assert.Equal((result, expected, runStatus), (outcome.Result, outcome.Refusal, outcome.RunStatus));
        Assert.Null(outcome.Status);
    }

    /// <summary>Rows, complete, heartbeat and fail under <paramref name="task"/>'s lease are all refused with <paramref name="expected"/>.</summary>
    private static async Task AssertRefusedAsync(IScheduleStore store, LeasedTask task, TaskRefusal expected, ScheduleStatus? runStatus = null)
    {
        AssertRefusal(expected, await AppendAsync(store, task, 99, Row("stale")), runStatus);
        AssertRefusal(expected, await CompleteAsync(store, task, [Row("stale")], [Sub("stale")]), runStatus);
        AssertRefusal(expected, await store.HeartbeatAsync(task.TaskId, task.LeaseToken, LongLease, None), runStatus);
        AssertRefusal(expected, await FailAsync(store, task, "STALE", retryable: false), runStatus);
    }

    private static void AssertFailure(StatusSnapshot status, string code)
    {
        Assert.Equal(ScheduleStatus.Failure, status.Status);
        Assert.Equal(code, status.Failure?.Code);
        Assert.False(string.IsNullOrWhiteSpace(status.Failure?.Message));
    }

    /// <summary>The page holds exactly <paramref name="expected"/>, compared as UTF-8 bytes.</summary>
    private static void AssertRows(IReadOnlyList<string> expected, StatusSnapshot status)
    {
        var actual = new List<byte[]>();
        foreach (var row in status.Page)
        {
            actual.Add(row.ToArray());
        }
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Count, status.Page.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            if (!Encoding.UTF8.GetBytes(expected[i]).AsSpan().SequenceEqual(actual[i]))
            {
                Assert.Fail($"Row {i} of the page: expected {expected[i]}, got {Encoding.UTF8.GetString(actual[i])}.");
            }
        }
    }
}
