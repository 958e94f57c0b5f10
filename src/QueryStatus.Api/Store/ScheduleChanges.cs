namespace QueryStatus.Api.Store;

/// <summary>
/// The store's change events, per schedule: a status request that waits for its query to change (long-poll) waits
/// here instead of re-reading the store. A store publishes a schedule whenever what its status shows may have changed
/// (its state, progress, result, expiry); the in-memory store as it changes it, the PostgreSQL store through
/// <c>LISTEN/NOTIFY</c>, so that a change made through any instance wakes the waiters of every instance.
/// </summary>
/// <remarks>
/// A waiter subscribes <em>before</em> it reads (so that a change between its read and its wait is not lost), then
/// waits on <see cref="Subscription.Changed"/>, and disposes the subscription when done. Publishing a schedule nobody
/// waits for is one dictionary lookup; an entry lives only while someone waits on it, so the registry holds nothing
/// for schedules no one watches.
/// </remarks>
public sealed class ScheduleChanges
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string LicenseId, string ScheduleId), Watch> _watches = [];

    /// <summary>Waiters of one schedule: the signal of its next change, and how many wait on it.</summary>
    private sealed class Watch
    {
        public TaskCompletionSource Next { get; set; } = NewSignal();
        public int Waiters { get; set; }
    }

    /// <summary>Schedules someone is waiting on now (for tests and gauges).</summary>
    public int Watched
    {
        get
        {
            lock (_gate)
            {
                return _watches.Count;
            }
        }
    }

    /// <summary>Starts watching a schedule; <see cref="Subscription.Changed"/> completes at its next change.</summary>
    public Subscription Subscribe(string licenseId, string scheduleId)
    {
        lock (_gate)
        {
            if (!_watches.TryGetValue((licenseId, scheduleId), out var watch))
            {
                watch = new Watch();
                _watches.Add((licenseId, scheduleId), watch);
            }
            watch.Waiters++;
            return new Subscription(this, licenseId, scheduleId, watch.Next.Task);
        }
    }

    /// <summary>What a schedule's status shows may have changed: wakes everyone watching it.</summary>
    public void Publish(string licenseId, string scheduleId)
    {
        TaskCompletionSource? changed = null;
        lock (_gate)
        {
            if (_watches.TryGetValue((licenseId, scheduleId), out var watch))
            {
                changed = watch.Next;
                watch.Next = NewSignal();
            }
        }
        // Continuations run asynchronously: no waiter runs here, under a store's lock.
        changed?.TrySetResult();
    }

    /// <summary>
    /// Something may have changed that was not reported (the events' source was cut off for a while): wakes every
    /// waiter, and each looks again.
    /// </summary>
    public void PublishAll()
    {
        List<TaskCompletionSource> changed;
        lock (_gate)
        {
            changed = new List<TaskCompletionSource>(_watches.Count);
            foreach (var watch in _watches.Values)
            {
                changed.Add(watch.Next);
                watch.Next = NewSignal();
            }
        }
        foreach (var signal in changed)
        {
            signal.TrySetResult();
        }
    }

    private void Leave(string licenseId, string scheduleId)
    {
        lock (_gate)
        {
            if (_watches.TryGetValue((licenseId, scheduleId), out var watch) && --watch.Waiters == 0)
            {
                _watches.Remove((licenseId, scheduleId));
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One waiter's watch of one schedule; dispose it when no longer waiting.</summary>
    public sealed class Subscription(ScheduleChanges owner, string licenseId, string scheduleId, Task changed) : IDisposable
    {
        private int _disposed;

        /// <summary>Completes at the schedule's first change after <see cref="Subscribe"/>.</summary>
        public Task Changed { get; } = changed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Leave(licenseId, scheduleId);
            }
        }
    }
}
