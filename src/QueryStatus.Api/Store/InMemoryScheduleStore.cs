using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Store.InMemory;

namespace QueryStatus.Api.Store;

/// <summary>
/// The embedded default store and scheduler. Everything sits behind one lock, so each operation is
/// atomic and the invariants (a task is in exactly one place; a license never runs more than its
/// limit) hold under any number of concurrent workers and readers. The lock is held for
/// microseconds: rows are copied in before taking it and written out after, from buffers that no
/// longer change.
/// </summary>
/// <remarks>
/// This class is the lock and the operations; each job is a part under <c>Store/InMemory/</c> that it calls under the
/// lock: the runs and their snapshots (<see cref="RunTable"/>), the per-license queues (<see cref="LicenseQueues"/>),
/// leases (<see cref="TaskLeases"/>), staged rows and results (<see cref="RowStaging"/>), a run's state changes
/// (<see cref="RunLifecycle"/>), deadlines (<see cref="TimeStep"/>) and the waiting lease calls (<see cref="WorkSignal"/>).
/// Progress and queue counters are never stored: they are the sizes of the task collections
/// (<see cref="LicenseQueue.Queued"/>, <see cref="LicenseQueue.Running"/>) and a count over the run's
/// tasks. What time makes due waits in two timelines, one deadline per owner (a run's start time, timeout or
/// retention in <see cref="RunLifecycle.Deadlines"/>; a lease's expiry in <see cref="TaskLeases.Deadlines"/>), and is applied
/// by the first write (or sweep) that runs after it is due. Nothing outlives its run: removing a run removes its
/// deadlines, its tasks and, with its license's last run, the license's queue.
/// </remarks>
public sealed class InMemoryScheduleStore : IScheduleStore
{
    /// <summary>A seeded RUNNING task has no worker; it goes back to the queue if none reports by then.</summary>
    private static readonly TimeSpan SeededLeaseDuration = TimeSpan.FromMinutes(5);

    public const string ProviderName = "InMemory";

    private readonly object _gate = new();
    private readonly TimeProvider _time;

    private readonly RunTable _runs;
    private readonly LicenseQueues _queues;
    private readonly TaskLeases _leases;
    private readonly RowStaging _staging;
    private readonly RunLifecycle _lifecycle;
    private readonly TimeStep _step;
    private readonly WorkSignal _signal = new();
    private readonly ScheduleChanges _changes;

    /// <summary>The tasks one lease call takes from the queues; reused under the lock, emptied after each call.</summary>
    private readonly List<WorkItem> _taken = [];

    public InMemoryScheduleStore(
        TimeProvider time,
        IOptions<StoreOptions> options,
        IOptions<SchedulerOptions>? scheduler = null,
        IOptions<LicensesOptions>? licenses = null,
        ScheduleChanges? changes = null)
    {
        _time = time;
        _changes = changes ?? new ScheduleChanges();
        var schedulerOptions = scheduler?.Value ?? new SchedulerOptions();
        _queues = new LicenseQueues(schedulerOptions, licenses?.Value ?? []);
        _runs = new RunTable(time, options.Value.Retention, _queues);
        _leases = new TaskLeases(_queues, schedulerOptions);
        _staging = new RowStaging(schedulerOptions);
        _lifecycle = new RunLifecycle(_runs, _queues, _leases, _signal, _changes, schedulerOptions);
        _step = new TimeStep(time, _lifecycle, _leases, _signal, schedulerOptions);
    }

    public ValueTask<StatusSnapshot?> GetStatusAsync(
        string licenseId, string scheduleId, PageWindow page, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // A read changes nothing: deadlines are applied by writes and by the sweep (RemoveExpiredAsync). Retention
            // is the one deadline a read must honour to the instant, so a finished run past it reads as gone here.
            if (!_runs.TryGetUnexpired(licenseId, scheduleId, out var run))
            {
                return ValueTask.FromResult<StatusSnapshot?>(null);
            }
            return ValueTask.FromResult<StatusSnapshot?>(_runs.Snapshot(run, page));
        }
    }

    public ValueTask PutAsync(ScheduleRecord schedule, CancellationToken cancellationToken)
    {
        var problems = schedule.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(
                $"Schedule '{schedule.ScheduleId}' is inconsistent: {string.Join("; ", problems)}.", nameof(schedule));
        }

        // The store's own copy: the caller may append to its buffer later, and Finish trims this one in place.
        var rows = new RowBuffer();
        rows.AppendRange(schedule.Rows, 0, schedule.Rows.Count);

        lock (_gate)
        {
            // No Tick here: a seed describes state as of now; what it makes due is applied by the next write or sweep.
            var now = _time.GetUtcNow();
            if (_runs.TryGet(schedule.LicenseId, schedule.ScheduleId, out var old))
            {
                _lifecycle.Remove(old, now);
            }

            var run = _runs.Add(schedule.LicenseId, schedule.ScheduleId);
            run.Status = schedule.Status;
            run.Failure = schedule.Failure;
            run.Result = rows;

            foreach (var state in schedule.SubQueries)
            {
                var item = _runs.AddTask(run, ReadOnlyMemory<byte>.Empty);
                switch (state)
                {
                    case SubQueryState.Done:
                        item.State = ItemState.Done;
                        item.Attempt = 1;
                        break;
                    case SubQueryState.Running:
                        _queues.StartRunning(item); // It takes its seat without passing through the queue.
                        _leases.Start(item, "seed", SeededLeaseDuration, now);
                        break;
                    case SubQueryState.Queued when run.Status == ScheduleStatus.Scheduled:
                        break; // Pending: a seeded SCHEDULED run has no start time and waits until stopped.
                    case SubQueryState.Queued:
                        _queues.Enqueue(item, atFront: false);
                        break;
                }
            }

            if (run.Status is ScheduleStatus.Queued or ScheduleStatus.Running)
            {
                _lifecycle.StartClock(run, now);
            }
            if (run.Status.IsFinished())
            {
                _lifecycle.Finish(run, schedule.Status, schedule.FinishedAt ?? now);
            }
            _signal.Pulse();
            _changes.Publish(run.LicenseId, run.ScheduleId);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var before = _runs.Count;
            _step.Tick();
            _runs.TrimWhenSparse();
            return ValueTask.FromResult(before - _runs.Count);
        }
    }

    public string Provider => ProviderName;

    public StoreHoldings Holdings()
    {
        lock (_gate)
        {
            var (rows, rowBytes) = _runs.ResultsHeld();
            var (stagedRows, stagedBytes) = RowStaging.Held(_queues);
            return new StoreHoldings(_runs.Count, _runs.TaskCount, rows + stagedRows, rowBytes + stagedBytes, _queues.Count);
        }
    }

    public ValueTask PingAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask<WriteOutcome> SubmitAsync(SubmitCommand command, CancellationToken cancellationToken)
    {
        var payloads = command.SubQueries.Select(p => (ReadOnlyMemory<byte>)p.ToArray()).ToList();
        lock (_gate)
        {
            var now = _step.Tick();
            if (_runs.TryGet(command.LicenseId, command.ScheduleId, out var old))
            {
                if (!old.Status.IsFinished())
                {
                    return ValueTask.FromResult(WriteOutcome.Refused(RunRefusal.RunNotFinished, old.Status));
                }
                _lifecycle.Remove(old, now);
            }

            var run = _runs.Add(command.LicenseId, command.ScheduleId);
            run.Status = ScheduleStatus.Scheduled;
            foreach (var payload in payloads)
            {
                _runs.AddTask(run, payload);
            }

            if (command.NotBefore is { } notBefore && notBefore > now)
            {
                _lifecycle.StartAt(run, notBefore);
            }
            else
            {
                _lifecycle.Activate(run, now);
            }
            return ValueTask.FromResult(new WriteOutcome(WriteResult.Ok, Status: _runs.Snapshot(run, new PageWindow(0, 0, 0))));
        }
    }

    public ValueTask<WriteOutcome> StopAsync(string licenseId, string scheduleId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _step.Tick();
            if (!_runs.TryGet(licenseId, scheduleId, out var run))
            {
                return ValueTask.FromResult(WriteOutcome.Refused(RunRefusal.ScheduleNotFound));
            }
            if (run.Status.IsFinished())
            {
                return ValueTask.FromResult(WriteOutcome.Refused(RunRefusal.RunAlreadyFinished, run.Status));
            }
            _lifecycle.Finish(run, ScheduleStatus.Stopped, now);
            return ValueTask.FromResult(new WriteOutcome(WriteResult.Ok, Status: _runs.Snapshot(run, new PageWindow(0, 0, 0))));
        }
    }

    public async ValueTask<IReadOnlyList<LeasedTask>> LeaseAsync(LeaseCommand command, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + wait;
        while (true)
        {
            Task signal;
            TimeSpan sleep;
            lock (_gate)
            {
                var now = _step.Tick();
                var leased = TryLease(command, now);
                if (leased.Count > 0 || now >= deadline)
                {
                    return leased;
                }
                signal = _signal.Next;
                // Wake for new work, or when the next deadline (a start time, an expired lease) is due.
                var until = _step.NextDeadline() is { } due && due < deadline ? due : deadline;
                sleep = until - now;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(sleep > TimeSpan.Zero ? sleep : TimeSpan.Zero, _time, timeout.Token);
            await Task.WhenAny(signal, delay).ConfigureAwait(false);
            await timeout.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public ValueTask<TaskOutcome> HeartbeatAsync(string taskId, string leaseToken, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _step.Tick();
            if (!TryLiveLease(taskId, leaseToken, out var item, out var refused))
            {
                return ValueTask.FromResult(refused);
            }
            _leases.Renew(item, leaseDuration, now);
            return ValueTask.FromResult(TaskLeases.Outcome(WriteResult.Ok, item));
        }
    }

    public ValueTask<TaskOutcome> AppendRowsAsync(
        string taskId, string leaseToken, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _step.Tick();
            if (!TryLiveLease(taskId, leaseToken, out var item, out var refused))
            {
                return ValueTask.FromResult(refused);
            }
            if (RowStaging.HasBatch(item, batch))
            {
                return ValueTask.FromResult(TaskLeases.Outcome(WriteResult.Duplicate, item));
            }
            if (ExceedsRowLimit(item.Run, rows.Count) is { } tooLarge)
            {
                return ValueTask.FromResult(tooLarge);
            }
            RowStaging.Stage(item, batch, rows);
            return ValueTask.FromResult(TaskLeases.Outcome(WriteResult.Ok, item) with { RowsAccepted = rows.Count });
        }
    }

    public ValueTask<TaskOutcome> CompleteAsync(
        string taskId, string leaseToken, IReadOnlyList<ReadOnlyMemory<byte>> rows, IReadOnlyList<ReadOnlyMemory<byte>> subQueries,
        CancellationToken cancellationToken)
    {
        var payloads = subQueries.Select(p => (ReadOnlyMemory<byte>)p.ToArray()).ToList();
        lock (_gate)
        {
            var now = _step.Tick();
            if (_runs.TryGetTask(taskId, out var done) && TaskLeases.CompletedBy(done, leaseToken))
            {
                return ValueTask.FromResult(TaskLeases.Outcome(WriteResult.Duplicate, done));
            }
            if (!TryLiveLease(taskId, leaseToken, out var item, out var refused))
            {
                return ValueTask.FromResult(refused);
            }
            var run = item.Run;
            if (ExceedsRowLimit(run, rows.Count) is { } tooLarge)
            {
                return ValueTask.FromResult(tooLarge);
            }

            RowStaging.Commit(item, rows);
            _leases.Complete(item);
            _changes.Publish(run.LicenseId, run.ScheduleId); // Its progress, and its sub-queries if it adds some.

            foreach (var payload in payloads)
            {
                _queues.Enqueue(_runs.AddTask(run, payload), atFront: false);
            }
            if (run.Tasks.TrueForAll(t => t.State == ItemState.Done))
            {
                _lifecycle.Finish(run, ScheduleStatus.Success, now);
            }
            _signal.Pulse();
            return ValueTask.FromResult(TaskLeases.Outcome(WriteResult.Ok, item));
        }
    }

    public ValueTask<TaskOutcome> FailAsync(string taskId, string leaseToken, TaskFailure failure, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _step.Tick();
            if (!TryLiveLease(taskId, leaseToken, out var item, out var refused))
            {
                return ValueTask.FromResult(refused);
            }
            _leases.End(item);
            if (!(failure.Retryable && _leases.TryRetry(item)))
            {
                _lifecycle.Fail(item.Run, new Failure(failure.Code, failure.Message), now);
            }
            _signal.Pulse();
            return ValueTask.FromResult(TaskLeases.Outcome(WriteResult.Ok, item));
        }
    }

    private List<LeasedTask> TryLease(LeaseCommand command, DateTimeOffset now)
    {
        var leased = new List<LeasedTask>();
        _queues.Take(command.MaxTasks, _taken);
        try
        {
            foreach (var item in _taken)
            {
                var started = item.Run.Status != ScheduleStatus.Running;
                _leases.Start(item, command.WorkerId, command.LeaseDuration, now);
                if (started)
                {
                    _changes.Publish(item.Run.LicenseId, item.Run.ScheduleId);
                }
                leased.Add(new LeasedTask(item.Id, item.Run.ScheduleId, item.Run.LicenseId, item.Payload, item.Attempt,
                    item.LeaseToken!, item.LeaseExpiresAt));
            }
        }
        finally
        {
            _taken.Clear(); // Holds no task past the call: an expired run's tasks must be collectable.
        }
        return leased;
    }

    /// <summary>True, with the task, when <paramref name="leaseToken"/> holds its live lease; else why not.</summary>
    private bool TryLiveLease(string taskId, string leaseToken, [NotNullWhen(true)] out WorkItem? item, [NotNullWhen(false)] out TaskOutcome? refused)
    {
        _runs.TryGetTask(taskId, out item);
        return TaskLeases.IsLive(item, leaseToken, out refused);
    }

    /// <summary>Fails the run when <paramref name="adding"/> more rows break the size rule; the refusal to answer with.</summary>
    private TaskOutcome? ExceedsRowLimit(Run run, int adding)
    {
        if (!_staging.Exceeds(run, adding))
        {
            return null;
        }
        _lifecycle.Fail(run, _staging.TooLarge(), _time.GetUtcNow());
        return TaskOutcome.Refused(TaskRefusal.ResultTooLarge);
    }
}
