namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// A run's way from SCHEDULED through QUEUED and RUNNING to its end, and the one deadline it holds at each stage (its
/// start time, its timeout, its retention). Every change of a run's state goes through here, whichever operation or
/// deadline causes it, so that what the change implies happens together: tasks join or leave the queues, leases are
/// abandoned, the result is sealed, the deadline is replaced, and waiting workers and status waiters are woken.
/// </summary>
internal sealed class RunLifecycle(
    RunTable runs, LicenseQueues queues, TaskLeases leases, WorkSignal signal, ScheduleChanges changes, SchedulerOptions scheduler)
{
    /// <summary>Each run's one deadline; what it means depends on the run's state (see <see cref="TimeStep"/>).</summary>
    public Timeline<Run> Deadlines { get; } = new();

    /// <summary>A SCHEDULED run is activated at <paramref name="startAt"/>.</summary>
    public void StartAt(Run run, DateTimeOffset startAt)
    {
        Deadlines.Set(run, startAt);
        changes.Publish(run.LicenseId, run.ScheduleId);
    }

    /// <summary>Queues all of a run's tasks; from now it has the maximum run time to finish.</summary>
    public void Activate(Run run, DateTimeOffset now)
    {
        run.Status = ScheduleStatus.Queued;
        foreach (var item in run.Tasks)
        {
            queues.Enqueue(item, atFront: false);
        }
        StartClock(run, now);
        signal.Pulse();
        changes.Publish(run.LicenseId, run.ScheduleId);
    }

    /// <summary>The run has been queued since <paramref name="now"/> and times out the maximum run time later.</summary>
    public void StartClock(Run run, DateTimeOffset now)
    {
        run.QueuedAt = now;
        Deadlines.Set(run, now + scheduler.MaxRunTime);
    }

    public void Fail(Run run, Failure failure, DateTimeOffset now)
    {
        run.Failure = failure;
        Finish(run, ScheduleStatus.Failure, now);
    }

    /// <summary>Ends a run: what is still queued is dropped, what runs is abandoned, the result is put in order.</summary>
    public void Finish(Run run, ScheduleStatus status, DateTimeOffset finishedAt)
    {
        foreach (var item in run.Tasks)
        {
            switch (item.State)
            {
                case ItemState.Queued:
                    queues.Withdraw(item);
                    item.State = ItemState.Dropped;
                    break;
                case ItemState.Running:
                    leases.End(item);
                    item.State = ItemState.Dropped;
                    break;
                case ItemState.Pending:
                    item.State = ItemState.Dropped;
                    break;
            }
        }

        RowStaging.Seal(run, status);
        run.Status = status;
        run.FinishedAt = finishedAt;
        Deadlines.Set(run, runs.RetainedUntil(finishedAt));
        signal.Pulse();
        changes.Publish(run.LicenseId, run.ScheduleId);
    }

    /// <summary>Removes a run from the store, stopping it first if it has not finished; nothing of it stays behind.</summary>
    public void Remove(Run run, DateTimeOffset now)
    {
        if (!run.Status.IsFinished())
        {
            Finish(run, ScheduleStatus.Stopped, now);
        }
        Deadlines.Cancel(run);
        runs.Remove(run);
        changes.Publish(run.LicenseId, run.ScheduleId);
    }
}
