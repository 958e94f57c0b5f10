using Microsoft.Extensions.Options;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Status;

/// <summary>
/// Long-polls of the status endpoint: at most <see cref="StatusWaitOptions.MaxWaiters"/> at once, each woken by its
/// schedule's change events (<see cref="ScheduleChanges"/>) or by its deadline on the service's clock, never by
/// re-reading the store on a timer.
/// </summary>
public sealed class StatusWaits(ScheduleChanges changes, TimeProvider time, IOptions<StatusWaitOptions> options)
{
    private readonly ScheduleChanges _changes = changes;
    private readonly TimeProvider _time = time;
    private readonly int _max = options.Value.MaxWaiters;
    private int _waiting;

    /// <summary>Requests waiting now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>A wait of up to <paramref name="wait"/> for one schedule; null when there is no room (answer at once).</summary>
    public Wait? TryStart(string licenseId, string scheduleId, TimeSpan wait)
    {
        // The deadline counts from the request's arrival, fixed before it counts as waiting.
        var deadline = _time.GetUtcNow() + wait;
        if (Interlocked.Increment(ref _waiting) > _max)
        {
            Interlocked.Decrement(ref _waiting);
            return null;
        }
        return new Wait(this, licenseId, scheduleId, deadline);
    }

    /// <summary>One request's wait: watch before each read, then <see cref="UntilChangeAsync"/>; dispose at the end.</summary>
    public sealed class Wait(StatusWaits owner, string licenseId, string scheduleId, DateTimeOffset deadline) : IDisposable
    {
        private ScheduleChanges.Subscription? _watch;
        private int _disposed;

        /// <summary>Starts watching for the next change; call it before reading the state the change is compared with.</summary>
        public void Watch()
        {
            _watch?.Dispose();
            _watch = owner._changes.Subscribe(licenseId, scheduleId);
        }

        /// <summary>
        /// Waits for the change watched since <see cref="Watch"/>, or the deadline: true when something changed, false
        /// when the time is up. Throws when the client goes away (<paramref name="cancellationToken"/>).
        /// </summary>
        public async Task<bool> UntilChangeAsync(CancellationToken cancellationToken)
        {
            var now = owner._time.GetUtcNow();
            if (deadline <= now || _watch is null)
            {
                return false;
            }
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // A timer counts its delay from when it is set, not from when the delay was computed: a clock that moved in
            // between (a test's FakeTimeProvider, a thread paused for long) would end the wait that much late, or, under a
            // test's clock that then stands still, never. So it is set again from the new time until the clock stood
            // still while it was set (to a millisecond; the timers set before are stopped with the rest).
            Task timeUp;
            while (true)
            {
                timeUp = Task.Delay(Max(deadline - now, TimeSpan.Zero), owner._time, stop.Token);
                var after = owner._time.GetUtcNow();
                if (after - now < ArmingTolerance)
                {
                    break;
                }
                now = after;
            }
            var first = await Task.WhenAny(_watch.Changed, timeUp).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return first == _watch.Changed;
        }

        private static readonly TimeSpan ArmingTolerance = TimeSpan.FromMilliseconds(1);

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _watch?.Dispose();
                Interlocked.Decrement(ref owner._waiting);
            }
        }
    }
}
