namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// Applies what time has made due: a run's start, its timeout or the end of its retention, and a lease's expiry. No
/// timer per deadline: every write, and the periodic sweep, first applies all that are due (<see cref="Tick"/>), so a
/// write acts on up-to-date state, and a waiting lease call sleeps only until the next deadline (<see cref="NextDeadline"/>).
/// Both timelines are applied together, earliest first, because one deadline can change what another means (an expired
/// last lease fails the run before its timeout would).
/// </summary>
internal sealed class TimeStep(TimeProvider time, RunLifecycle lifecycle, TaskLeases leases, WorkSignal signal, SchedulerOptions scheduler)
{
    /// <summary>Applies every deadline that is due, earliest first, and returns the time it used.</summary>
    public DateTimeOffset Tick()
    {
        var now = time.GetUtcNow();
        while (true)
        {
            var hasRun = lifecycle.Deadlines.TryPeek(out var run, out var runDue) && runDue <= now;
            var hasLease = leases.Deadlines.TryPeek(out var item, out var leaseDue) && leaseDue <= now;
            // Each deadline takes effect at the instant it was due, not when it is noticed: the state after a step is
            // the same whether it runs a millisecond or a sweep interval late (a timed-out run's finish time, hence
            // its expiry; a scheduled run's start, hence its timeout).
            if (hasLease && (!hasRun || leaseDue <= runDue))
            {
                leases.Deadlines.Cancel(item);
                ExpireLease(item, leaseDue);
            }
            else if (hasRun)
            {
                lifecycle.Deadlines.Cancel(run);
                RunDeadlinePassed(run, runDue);
            }
            else
            {
                return now;
            }
        }
    }

    /// <summary>The earliest deadline of either timeline, if any.</summary>
    public DateTimeOffset? NextDeadline()
    {
        DateTimeOffset? next = lifecycle.Deadlines.TryPeek(out _, out var runDue) ? runDue : null;
        if (leases.Deadlines.TryPeek(out _, out var leaseDue) && (next is null || leaseDue < next))
        {
            next = leaseDue;
        }
        return next;
    }

    private void ExpireLease(WorkItem item, DateTimeOffset due)
    {
        leases.End(item);
        if (leases.TryRetry(item))
        {
            signal.Pulse();
        }
        else
        {
            lifecycle.Fail(item.Run, Failure.TaskLeaseExpired(item.Attempt, scheduler.MaxAttempts), due);
        }
    }

    /// <summary>A run's one deadline means what its state says: its start time, its timeout, or its retention.</summary>
    private void RunDeadlinePassed(Run run, DateTimeOffset due)
    {
        switch (run.Status)
        {
            case ScheduleStatus.Scheduled:
                lifecycle.Activate(run, due);
                break;
            case ScheduleStatus.Queued or ScheduleStatus.Running:
                lifecycle.Fail(run, Failure.QueryTimeout(scheduler.MaxRunTime), due);
                break;
            default:
                lifecycle.Remove(run, due);
                break;
        }
    }
}
