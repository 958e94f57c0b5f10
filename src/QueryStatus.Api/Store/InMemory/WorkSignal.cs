namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// Wakes lease calls that found nothing to lease and wait for work. Waiters must not poll (a worker may wait many
/// seconds), so anything that may have made a task leasable pulses this: every waiter wakes and takes a new look, and
/// the next waiters wait on a fresh signal. Continuations run asynchronously, so no waiter runs under the store's lock.
/// </summary>
internal sealed class WorkSignal
{
    private TaskCompletionSource _current = NewSignal();

    /// <summary>Completes at the next <see cref="Pulse"/>.</summary>
    public Task Next => _current.Task;

    /// <summary>Wakes every waiting lease call; each takes a new look.</summary>
    public void Pulse()
    {
        var signal = _current;
        _current = NewSignal();
        signal.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
