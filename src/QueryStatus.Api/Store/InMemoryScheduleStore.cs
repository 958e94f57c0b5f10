using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Store;

/// <summary>
/// The embedded default store and scheduler. Everything sits behind one lock, so each operation is
/// atomic and the invariants (a task is in exactly one place; a license never runs more than its
/// limit) hold under any number of concurrent workers and readers. The lock is held for
/// microseconds: rows are copied in before taking it and written out after, from buffers that no
/// longer change.
/// </summary>
/// <remarks>
/// Progress and queue counters are never stored: they are the sizes of the task collections
/// (<see cref="LicenseQueue.Queued"/>, <see cref="LicenseQueue.Running"/>) and a count over the run's
/// tasks. What time makes due waits in two timelines, one deadline per owner (a run's start time, timeout or
/// retention in <see cref="_runDeadlines"/>; a lease's expiry in <see cref="_leaseDeadlines"/>), and is applied
/// by the first operation that runs after it is due. Nothing outlives its run: removing a run removes its
/// deadlines, its tasks and, with its license's last run, the license's queue.
/// </remarks>
public sealed class InMemoryScheduleStore : IScheduleStore
{
    /// <summary>A seeded RUNNING task has no worker; it goes back to the queue if none reports by then.</summary>
    private static readonly TimeSpan SeededLeaseDuration = TimeSpan.FromMinutes(5);

    public const string ProviderName = "InMemory";

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _retention;
    private readonly SchedulerOptions _scheduler;
    private readonly LicensesOptions _licenseOptions;

    private readonly Dictionary<(string License, string Schedule), Run> _runs = [];
    private readonly Dictionary<string, LicenseQueue> _licenses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WorkItem> _tasks = new(StringComparer.Ordinal);

    /// <summary>Licenses with queued tasks, in the order they are next served (round robin).</summary>
    private readonly LinkedList<LicenseQueue> _rotation = new();

    private readonly Timeline<Run> _runDeadlines = new();
    private readonly Timeline<WorkItem> _leaseDeadlines = new();
    private TaskCompletionSource _workSignal = NewSignal();

    public InMemoryScheduleStore(
        TimeProvider time,
        IOptions<StoreOptions> options,
        IOptions<SchedulerOptions>? scheduler = null,
        IOptions<LicensesOptions>? licenses = null)
    {
        _time = time;
        _retention = options.Value.Retention;
        _scheduler = scheduler?.Value ?? new SchedulerOptions();
        _licenseOptions = licenses?.Value ?? [];
    }

    public ValueTask<StatusSnapshot?> GetStatusAsync(
        string licenseId, string scheduleId, PageWindow page, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // A read changes nothing: deadlines are applied by writes and by the sweep (RemoveExpiredAsync). Retention
            // is the one deadline a read must honour to the instant, so a finished run past it reads as gone here.
            if (!_runs.TryGetValue((licenseId, scheduleId), out var run)
                || (run.FinishedAt is { } finished && finished + _retention <= _time.GetUtcNow()))
            {
                return ValueTask.FromResult<StatusSnapshot?>(null);
            }
            return ValueTask.FromResult<StatusSnapshot?>(Snapshot(run, page));
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
            // No Tick here: a seed describes state as of now; what it makes due is applied by the next read or sweep.
            var now = _time.GetUtcNow();
            if (_runs.TryGetValue((schedule.LicenseId, schedule.ScheduleId), out var old))
            {
                RemoveRun(old);
            }

            var run = AddRun(schedule.LicenseId, schedule.ScheduleId);
            run.Status = schedule.Status;
            run.Failure = schedule.Failure;
            run.Result = rows;

            foreach (var state in schedule.SubQueries)
            {
                var item = AddTask(run, ReadOnlyMemory<byte>.Empty);
                switch (state)
                {
                    case SubQueryState.Done:
                        item.State = ItemState.Done;
                        item.Attempt = 1;
                        break;
                    case SubQueryState.Running:
                        StartLease(item, "seed", SeededLeaseDuration, now);
                        break;
                    case SubQueryState.Queued when run.Status == ScheduleStatus.Scheduled:
                        break; // Pending: a seeded SCHEDULED run has no start time and waits until stopped.
                    case SubQueryState.Queued:
                        Enqueue(item, atFront: false);
                        break;
                }
            }

            if (run.Status is ScheduleStatus.Queued or ScheduleStatus.Running)
            {
                run.QueuedAt = now;
                _runDeadlines.Set(run, now + _scheduler.MaxRunTime);
            }
            if (run.Status.IsFinished())
            {
                Finish(run, schedule.Status, schedule.FinishedAt ?? now);
            }
            Pulse();
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var before = _runs.Count;
            Tick();
            // Dictionaries keep their peak size; after a burst has expired, an idle instance gives the tables back too.
            TrimWhenSparse(_runs);
            TrimWhenSparse(_tasks);
            return ValueTask.FromResult(before - _runs.Count);
        }
    }

    public string Provider => ProviderName;

    public StoreHoldings Holdings()
    {
        lock (_gate)
        {
            long rows = 0, rowBytes = 0;
            foreach (var run in _runs.Values)
            {
                rows += run.Result.Count;
                rowBytes += run.Result.ByteCount;
            }
            // Only a running task stages rows (ending an attempt discards them).
            foreach (var license in _licenses.Values)
            {
                foreach (var item in license.Running)
                {
                    rows += item.Staging?.Count ?? 0;
                    rowBytes += item.Staging?.ByteCount ?? 0;
                }
            }
            return new StoreHoldings(_runs.Count, _tasks.Count, rows, rowBytes, _licenses.Count);
        }
    }

    public ValueTask PingAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask<WriteOutcome> SubmitAsync(SubmitCommand command, CancellationToken cancellationToken)
    {
        var payloads = command.SubQueries.Select(p => (ReadOnlyMemory<byte>)p.ToArray()).ToList();
        lock (_gate)
        {
            var now = Tick();
            var key = (command.LicenseId, command.ScheduleId);
            if (_runs.TryGetValue(key, out var old))
            {
                if (!old.Status.IsFinished())
                {
                    return ValueTask.FromResult(WriteOutcome.Refused(RunRefusal.RunNotFinished, old.Status));
                }
                RemoveRun(old);
            }

            var run = AddRun(command.LicenseId, command.ScheduleId);
            run.Status = ScheduleStatus.Scheduled;
            foreach (var payload in payloads)
            {
                AddTask(run, payload);
            }

            if (command.NotBefore is { } notBefore && notBefore > now)
            {
                _runDeadlines.Set(run, notBefore);
            }
            else
            {
                Activate(run, now);
            }
            return ValueTask.FromResult(new WriteOutcome(WriteResult.Ok, Status: Snapshot(run, new PageWindow(0, 0, 0))));
        }
    }

    public ValueTask<WriteOutcome> StopAsync(string licenseId, string scheduleId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = Tick();
            if (!_runs.TryGetValue((licenseId, scheduleId), out var run))
            {
                return ValueTask.FromResult(WriteOutcome.Refused(RunRefusal.ScheduleNotFound));
            }
            if (run.Status.IsFinished())
            {
                return ValueTask.FromResult(WriteOutcome.Refused(RunRefusal.RunAlreadyFinished, run.Status));
            }
            Finish(run, ScheduleStatus.Stopped, now);
            return ValueTask.FromResult(new WriteOutcome(WriteResult.Ok, Status: Snapshot(run, new PageWindow(0, 0, 0))));
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
                var now = Tick();
                var leased = TryLease(command, now);
                if (leased.Count > 0 || now >= deadline)
                {
                    return leased;
                }
                signal = _workSignal.Task;
                // Wake for new work, or when the next deadline (a start time, an expired lease) is due.
                var until = NextDeadline() is { } due && due < deadline ? due : deadline;
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
            var now = Tick();
            if (!TryLiveLease(taskId, leaseToken, out var item, out var refused))
            {
                return ValueTask.FromResult(refused);
            }
            item.LeaseExpiresAt = now + leaseDuration;
            _leaseDeadlines.Set(item, item.LeaseExpiresAt);
            return ValueTask.FromResult(Outcome(WriteResult.Ok, item));
        }
    }

    public ValueTask<TaskOutcome> AppendRowsAsync(
        string taskId, string leaseToken, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Tick();
            if (!TryLiveLease(taskId, leaseToken, out var item, out var refused))
            {
                return ValueTask.FromResult(refused);
            }
            item.Batches ??= [];
            if (item.Batches.ContainsKey(batch))
            {
                return ValueTask.FromResult(Outcome(WriteResult.Duplicate, item));
            }
            if (ExceedsRowLimit(item.Run, rows.Count) is { } tooLarge)
            {
                return ValueTask.FromResult(tooLarge);
            }
            item.Staging ??= new RowBuffer();
            item.Batches.Add(batch, new StagedBatch(item.Staging.Count, rows.Count));
            foreach (var row in rows)
            {
                item.Staging.Append(row.Span);
            }
            return ValueTask.FromResult(Outcome(WriteResult.Ok, item) with { RowsAccepted = rows.Count });
        }
    }

    public ValueTask<TaskOutcome> CompleteAsync(
        string taskId, string leaseToken, IReadOnlyList<ReadOnlyMemory<byte>> rows, IReadOnlyList<ReadOnlyMemory<byte>> subQueries,
        CancellationToken cancellationToken)
    {
        var payloads = subQueries.Select(p => (ReadOnlyMemory<byte>)p.ToArray()).ToList();
        lock (_gate)
        {
            var now = Tick();
            if (_tasks.TryGetValue(taskId, out var done) && done.State == ItemState.Done && done.CompletedToken == leaseToken)
            {
                return ValueTask.FromResult(Outcome(WriteResult.Duplicate, done));
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

            // The task's rows join the result now: its batches by batch number, whatever order they arrived in (each
            // batch's rows were staged together), then the complete call's rows. Finish puts the tasks in sub-query order.
            item.ResultStart = run.Result.Count;
            if (item.Staging is { } staged)
            {
                foreach (var (_, range) in item.Batches!)
                {
                    run.Result.AppendRange(staged, range.Start, range.Start + range.Count);
                }
            }
            foreach (var row in rows)
            {
                run.Result.Append(row.Span);
            }
            item.ResultCount = run.Result.Count - item.ResultStart;
            run.InCreationOrder &= item.Index > run.LastCommittedIndex;
            run.LastCommittedIndex = Math.Max(run.LastCommittedIndex, item.Index);

            EndAttempt(item);
            item.State = ItemState.Done;
            item.CompletedToken = leaseToken;

            foreach (var payload in payloads)
            {
                Enqueue(AddTask(run, payload), atFront: false);
            }
            if (run.Tasks.TrueForAll(t => t.State == ItemState.Done))
            {
                Finish(run, ScheduleStatus.Success, now);
            }
            Pulse();
            return ValueTask.FromResult(Outcome(WriteResult.Ok, item));
        }
    }

    public ValueTask<TaskOutcome> FailAsync(string taskId, string leaseToken, TaskFailure failure, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = Tick();
            if (!TryLiveLease(taskId, leaseToken, out var item, out var refused))
            {
                return ValueTask.FromResult(refused);
            }
            EndAttempt(item);
            if (failure.Retryable && item.Attempt < _scheduler.MaxAttempts)
            {
                Enqueue(item, atFront: true);
            }
            else
            {
                FailRun(item.Run, new Failure(failure.Code, failure.Message), now);
            }
            Pulse();
            return ValueTask.FromResult(Outcome(WriteResult.Ok, item));
        }
    }

    // ---- scheduling ------------------------------------------------------------------------------

    private List<LeasedTask> TryLease(LeaseCommand command, DateTimeOffset now)
    {
        var leased = new List<LeasedTask>();
        var progress = true;
        while (leased.Count < command.MaxTasks && progress)
        {
            // One pass gives each license with room at most one task; a served license moves to the back.
            progress = false;
            var node = _rotation.First;
            while (node is not null && leased.Count < command.MaxTasks)
            {
                var next = node.Next;
                var license = node.Value;
                if (license.Queued.First is not { } first)
                {
                    _rotation.Remove(node);
                    license.InRotation = false;
                }
                else if (license.Running.Count < MaxConcurrent(license.Id))
                {
                    var item = first.Value;
                    license.Queued.RemoveFirst();
                    StartLease(item, command.WorkerId, command.LeaseDuration, now);
                    leased.Add(new LeasedTask(item.Id, item.Run.ScheduleId, item.Run.LicenseId, item.Payload, item.Attempt,
                        item.LeaseToken!, item.LeaseExpiresAt));
                    _rotation.Remove(node);
                    if (license.Queued.Count > 0)
                    {
                        _rotation.AddLast(node);
                    }
                    else
                    {
                        license.InRotation = false;
                    }
                    progress = true;
                }
                node = next;
            }
        }
        return leased;
    }

    private void StartLease(WorkItem item, string workerId, TimeSpan duration, DateTimeOffset now)
    {
        item.State = ItemState.Running;
        item.Attempt++;
        item.LeaseToken = RandomIds.UrlSafe(24);
        item.LeaseExpiresAt = now + duration;
        item.WorkerId = workerId;
        item.Run.License.Running.Add(item);
        if (item.Run.Status == ScheduleStatus.Queued)
        {
            item.Run.Status = ScheduleStatus.Running;
        }
        _leaseDeadlines.Set(item, item.LeaseExpiresAt);
    }

    /// <summary>
    /// Takes a running task out of its lease, whatever ends it (completion, failure, expiry, the run's end): the
    /// only way out of <see cref="ItemState.Running"/>, so a task's lease deadline never outlives its lease.
    /// What it staged is discarded (completion has moved it into the result first).
    /// </summary>
    private void EndAttempt(WorkItem item)
    {
        _leaseDeadlines.Cancel(item);
        item.Run.License.Running.Remove(item);
        item.LeaseToken = null;
        item.Staging = null;
        item.Batches = null;
    }

    private void Enqueue(WorkItem item, bool atFront)
    {
        var license = item.Run.License;
        item.State = ItemState.Queued;
        if (atFront)
        {
            license.Queued.AddFirst(item.QueueNode);
        }
        else
        {
            license.Queued.AddLast(item.QueueNode);
        }
        if (!license.InRotation)
        {
            _rotation.AddLast(license.RotationNode);
            license.InRotation = true;
        }
    }

    private void Activate(Run run, DateTimeOffset now)
    {
        run.Status = ScheduleStatus.Queued;
        run.QueuedAt = now;
        foreach (var item in run.Tasks)
        {
            Enqueue(item, atFront: false);
        }
        _runDeadlines.Set(run, now + _scheduler.MaxRunTime);
        Pulse();
    }

    private void FailRun(Run run, Failure failure, DateTimeOffset now)
    {
        run.Failure = failure;
        Finish(run, ScheduleStatus.Failure, now);
    }

    /// <summary>Ends a run: what is still queued is dropped, what runs is abandoned, the result is put in order.</summary>
    private void Finish(Run run, ScheduleStatus status, DateTimeOffset finishedAt)
    {
        foreach (var item in run.Tasks)
        {
            switch (item.State)
            {
                case ItemState.Queued:
                    run.License.Queued.Remove(item.QueueNode);
                    item.State = ItemState.Dropped;
                    break;
                case ItemState.Running:
                    EndAttempt(item);
                    item.State = ItemState.Dropped;
                    break;
                case ItemState.Pending:
                    item.State = ItemState.Dropped;
                    break;
            }
        }

        if (status == ScheduleStatus.Success && !run.InCreationOrder)
        {
            var ordered = new RowBuffer();
            foreach (var item in run.Tasks)
            {
                ordered.AppendRange(run.Result, item.ResultStart, item.ResultStart + item.ResultCount);
            }
            run.Result = ordered;
        }
        else if (status != ScheduleStatus.Success)
        {
            run.Result = RowBuffer.Empty; // Only a success serves rows; the memory goes now, not at expiry.
        }
        if (status == ScheduleStatus.Success)
        {
            // No more rows: the buffer gives back its unused tail before any reader can see it.
            run.Result.Trim();
        }

        run.Status = status;
        run.FinishedAt = finishedAt;
        _runDeadlines.Set(run, finishedAt + _retention);
        Pulse();
    }

    private TaskOutcome? ExceedsRowLimit(Run run, int adding)
    {
        var staged = 0L;
        foreach (var item in run.License.Running)
        {
            if (item.Run == run)
            {
                staged += item.Staging?.Count ?? 0;
            }
        }
        if (run.Result.Count + staged + adding <= _scheduler.MaxRowsPerRun)
        {
            return null;
        }
        FailRun(run, new Failure("RESULT_TOO_LARGE",
            $"The query produced more than {_scheduler.MaxRowsPerRun} rows, the most one query may return."), _time.GetUtcNow());
        return TaskOutcome.Refused(TaskRefusal.ResultTooLarge);
    }

    private int MaxConcurrent(string licenseId) =>
        _licenseOptions.TryGetValue(licenseId, out var options) && options.MaxConcurrentTasks is { } limit
            ? limit
            : _scheduler.DefaultMaxConcurrentTasks;

    // ---- time ------------------------------------------------------------------------------------

    /// <summary>Applies every deadline that is due, earliest first, and returns the time it used.</summary>
    private DateTimeOffset Tick()
    {
        var now = _time.GetUtcNow();
        while (true)
        {
            var hasRun = _runDeadlines.TryPeek(out var run, out var runDue) && runDue <= now;
            var hasLease = _leaseDeadlines.TryPeek(out var item, out var leaseDue) && leaseDue <= now;
            // Each deadline takes effect at the instant it was due, not when it is noticed: the state after a step is
            // the same whether it runs a millisecond or a sweep interval late (a timed-out run's finish time, hence
            // its expiry; a scheduled run's start, hence its timeout).
            if (hasLease && (!hasRun || leaseDue <= runDue))
            {
                _leaseDeadlines.Cancel(item);
                ExpireLease(item, leaseDue);
            }
            else if (hasRun)
            {
                _runDeadlines.Cancel(run);
                RunDeadlinePassed(run, runDue);
            }
            else
            {
                return now;
            }
        }
    }

    private DateTimeOffset? NextDeadline()
    {
        DateTimeOffset? next = _runDeadlines.TryPeek(out _, out var runDue) ? runDue : null;
        if (_leaseDeadlines.TryPeek(out _, out var leaseDue) && (next is null || leaseDue < next))
        {
            next = leaseDue;
        }
        return next;
    }

    private void ExpireLease(WorkItem item, DateTimeOffset due)
    {
        EndAttempt(item);
        if (item.Attempt < _scheduler.MaxAttempts)
        {
            Enqueue(item, atFront: true);
            Pulse();
        }
        else
        {
            FailRun(item.Run, new Failure("TASK_LEASE_EXPIRED",
                $"A sub-query's lease expired on its last attempt ({item.Attempt} of {_scheduler.MaxAttempts})."), due);
        }
    }

    /// <summary>A run's one deadline means what its state says: its start time, its timeout, or its retention.</summary>
    private void RunDeadlinePassed(Run run, DateTimeOffset due)
    {
        switch (run.Status)
        {
            case ScheduleStatus.Scheduled:
                Activate(run, due);
                break;
            case ScheduleStatus.Queued or ScheduleStatus.Running:
                FailRun(run, new Failure("QUERY_TIMEOUT",
                    $"The query did not finish within the maximum run time ({_scheduler.MaxRunTime})."), due);
                break;
            default:
                RemoveRun(run);
                break;
        }
    }


    /// <summary>Wakes every waiting lease call; each takes a new look.</summary>
    private void Pulse()
    {
        var signal = _workSignal;
        _workSignal = NewSignal();
        signal.TrySetResult();
    }

    // ---- bookkeeping -----------------------------------------------------------------------------

    private Run AddRun(string licenseId, string scheduleId)
    {
        if (!_licenses.TryGetValue(licenseId, out var license))
        {
            license = new LicenseQueue(licenseId);
            _licenses[licenseId] = license;
        }
        license.Runs++;
        var run = new Run(licenseId, scheduleId, license);
        _runs[(licenseId, scheduleId)] = run;
        return run;
    }

    private WorkItem AddTask(Run run, ReadOnlyMemory<byte> payload)
    {
        var item = new WorkItem("t_" + RandomIds.UrlSafe(18), run, run.Tasks.Count, payload);
        run.Tasks.Add(item);
        _tasks[item.Id] = item;
        return item;
    }

    private void RemoveRun(Run run)
    {
        if (!run.Status.IsFinished())
        {
            Finish(run, ScheduleStatus.Stopped, _time.GetUtcNow());
        }
        _runDeadlines.Cancel(run);
        _runs.Remove((run.LicenseId, run.ScheduleId));
        foreach (var item in run.Tasks)
        {
            _tasks.Remove(item.Id);
        }

        // A finished run has nothing queued or running, so a license without runs has an empty queue: it goes too.
        var license = run.License;
        if (--license.Runs == 0)
        {
            if (license.InRotation)
            {
                _rotation.Remove(license.RotationNode);
                license.InRotation = false;
            }
            _licenses.Remove(license.Id);
        }
    }

    private static void TrimWhenSparse<TKey, TValue>(Dictionary<TKey, TValue> table) where TKey : notnull
    {
        if (table.Capacity > 1024 && table.Count < table.Capacity / 4)
        {
            table.TrimExcess();
        }
    }

    /// <summary>True, with the task, when <paramref name="leaseToken"/> holds its live lease; else why not.</summary>
    private bool TryLiveLease(string taskId, string leaseToken, out WorkItem item, [NotNullWhen(false)] out TaskOutcome? refused)
    {
        refused = null;
        if (!_tasks.TryGetValue(taskId, out item!))
        {
            refused = TaskOutcome.Refused(TaskRefusal.TaskNotFound);
            return false;
        }
        if (item.State == ItemState.Running && item.LeaseToken == leaseToken)
        {
            return true;
        }
        refused = item.State switch
        {
            ItemState.Dropped => TaskOutcome.Refused(TaskRefusal.QueryEnded, item.Run.Status),
            ItemState.Done => TaskOutcome.Refused(TaskRefusal.TaskAlreadyCompleted),
            ItemState.Queued => TaskOutcome.Refused(TaskRefusal.LeaseExpired),
            // Running under another token, or Pending (never leased): either way not a token of this task's lease.
            _ => TaskOutcome.Refused(TaskRefusal.UnknownLease),
        };
        return false;
    }

    private static TaskOutcome Outcome(WriteResult result, WorkItem item) =>
        new(result, TaskState: item.State switch
            {
                // No call answers for a Pending task (it was never leased, so every token is refused); it would wait like a queued one.
                ItemState.Pending or ItemState.Queued => TaskState.Queued,
                ItemState.Running => TaskState.Running,
                ItemState.Done => TaskState.Done,
                ItemState.Dropped => TaskState.Failed,
                _ => throw new ArgumentOutOfRangeException(nameof(item)),
            },
            Attempt: item.Attempt,
            LeaseExpiresAt: item.State == ItemState.Running ? item.LeaseExpiresAt : null);

    private StatusSnapshot Snapshot(Run run, PageWindow window)
    {
        var ready = 0;
        foreach (var item in run.Tasks)
        {
            if (item.State == ItemState.Done)
            {
                ready++;
            }
        }
        var total = run.Status == ScheduleStatus.Success ? run.Result.Count : 0;
        var (start, end) = window.Resolve(total);
        return new StatusSnapshot(
            run.ScheduleId,
            run.Status,
            ready,
            run.Tasks.Count,
            run.License.Queued.Count,
            run.License.Running.Count,
            run.Failure,
            run.FinishedAt + _retention,
            total,
            new RowPage(start, end, run.Result.Segments(start, end)));
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private enum ItemState
    {
        /// <summary>Its run waits for its start time; not in any queue yet.</summary>
        Pending,
        Queued,
        Running,
        Done,

        /// <summary>Its run ended before it did (stopped, failed, timed out).</summary>
        Dropped,
    }

    private sealed class LicenseQueue
    {
        public LicenseQueue(string id)
        {
            Id = id;
            RotationNode = new LinkedListNode<LicenseQueue>(this);
        }

        public string Id { get; }
        public LinkedList<WorkItem> Queued { get; } = new();
        public HashSet<WorkItem> Running { get; } = [];
        public LinkedListNode<LicenseQueue> RotationNode { get; }
        public bool InRotation { get; set; }

        /// <summary>Runs of this license in the store, finished ones included.</summary>
        public int Runs { get; set; }
    }

    private sealed class Run(string licenseId, string scheduleId, LicenseQueue license)
    {
        public string LicenseId { get; } = licenseId;
        public string ScheduleId { get; } = scheduleId;
        public LicenseQueue License { get; } = license;
        public List<WorkItem> Tasks { get; } = [];
        public ScheduleStatus Status { get; set; }
        public Failure? Failure { get; set; }
        public DateTimeOffset? QueuedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }

        /// <summary>Committed rows; in completion order until the run succeeds.</summary>
        public RowBuffer Result { get; set; } = new();

        public bool InCreationOrder { get; set; } = true;
        public int LastCommittedIndex { get; set; } = -1;
    }

    private readonly record struct StagedBatch(long Start, int Count);

    private sealed class WorkItem
    {
        public WorkItem(string id, Run run, int index, ReadOnlyMemory<byte> payload)
        {
            Id = id;
            Run = run;
            Index = index;
            Payload = payload;
            QueueNode = new LinkedListNode<WorkItem>(this);
        }

        public string Id { get; }
        public Run Run { get; }

        /// <summary>Position among the run's sub-queries, in creation order: the order of the result.</summary>
        public int Index { get; }

        public ReadOnlyMemory<byte> Payload { get; }

        /// <summary>Its place in the license queue while queued: removal is O(1) when a run ends.</summary>
        public LinkedListNode<WorkItem> QueueNode { get; }

        public ItemState State { get; set; } = ItemState.Pending;
        public int Attempt { get; set; }
        public string? LeaseToken { get; set; }
        public DateTimeOffset LeaseExpiresAt { get; set; }
        public string? WorkerId { get; set; }
        public RowBuffer? Staging { get; set; }

        /// <summary>The batches staged under the current lease, by batch number: where each one's rows lie in <see cref="Staging"/>.</summary>
        public SortedList<long, StagedBatch>? Batches { get; set; }
        public string? CompletedToken { get; set; }
        public long ResultStart { get; set; }
        public long ResultCount { get; set; }
    }
}
