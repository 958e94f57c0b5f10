using System.Diagnostics.CodeAnalysis;

namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// The lease a worker holds on a running task. A worker can vanish at any moment, so every lease has an expiry that
/// takes the task back (the deadlines here, applied by <see cref="TimeStep"/>), and only the holder of the live token
/// may act on the task, so a worker that lost its lease cannot write into the attempt that replaced it. A lease ends in
/// one place, <see cref="End"/>, so that nothing it owned (its deadline, its seat under the license's limit, its staged
/// rows) outlives it.
/// </summary>
internal sealed class TaskLeases(LicenseQueues queues, SchedulerOptions scheduler)
{
    /// <summary>Each running task's lease expiry.</summary>
    public Timeline<WorkItem> Deadlines { get; } = new();

    /// <summary>Gives a task that has its seat under the license's limit a new lease; its run is RUNNING from then on.</summary>
    public void Start(WorkItem item, string workerId, TimeSpan duration, DateTimeOffset now)
    {
        item.State = ItemState.Running;
        item.Attempt++;
        item.LeaseToken = RandomIds.UrlSafe(24);
        item.LeaseExpiresAt = now + duration;
        item.WorkerId = workerId;
        if (item.Run.Status == ScheduleStatus.Queued)
        {
            item.Run.Status = ScheduleStatus.Running;
        }
        Deadlines.Set(item, item.LeaseExpiresAt);
    }

    /// <summary>Extends a live lease to <paramref name="duration"/> from <paramref name="now"/> (a heartbeat).</summary>
    public void Renew(WorkItem item, TimeSpan duration, DateTimeOffset now)
    {
        item.LeaseExpiresAt = now + duration;
        Deadlines.Set(item, item.LeaseExpiresAt);
    }

    /// <summary>
    /// Takes a running task out of its lease, whatever ends it (completion, failure, expiry, the run's end): the
    /// only way out of <see cref="ItemState.Running"/>, so a task's lease deadline never outlives its lease.
    /// What it staged is discarded (completion has moved it into the result first).
    /// </summary>
    public void End(WorkItem item)
    {
        Deadlines.Cancel(item);
        queues.StopRunning(item);
        item.LeaseToken = null;
        RowStaging.Discard(item);
    }

    /// <summary>Ends the lease of a task that finished; the same token completing it again is then recognised.</summary>
    public void Complete(WorkItem item)
    {
        var token = item.LeaseToken;
        End(item);
        item.State = ItemState.Done;
        item.CompletedToken = token;
    }

    /// <summary>True when <paramref name="leaseToken"/> is the lease that completed the task (a repeated complete call).</summary>
    public static bool CompletedBy(WorkItem item, string leaseToken) =>
        item.State == ItemState.Done && item.CompletedToken == leaseToken;

    /// <summary>
    /// Puts a task whose attempt ended back at the front of its license's queue if it has attempts left; false when
    /// that was its last (the caller then fails the run).
    /// </summary>
    public bool TryRetry(WorkItem item)
    {
        if (item.Attempt >= scheduler.MaxAttempts)
        {
            return false;
        }
        queues.Enqueue(item, atFront: true);
        return true;
    }

    /// <summary>True when <paramref name="leaseToken"/> holds the live lease of <paramref name="item"/> (null: no such task); else why not.</summary>
    public static bool IsLive([NotNullWhen(true)] WorkItem? item, string leaseToken, [NotNullWhen(false)] out TaskOutcome? refused)
    {
        refused = null;
        if (item is null)
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

    /// <summary>What a worker's call is answered with: the task as it now is.</summary>
    public static TaskOutcome Outcome(WriteResult result, WorkItem item) =>
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
}
