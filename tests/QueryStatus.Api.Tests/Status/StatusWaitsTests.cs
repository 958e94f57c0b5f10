using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Status;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Status;

/// <summary>A long-poll's deadline, against a clock that moves at the worst moment.</summary>
public sealed class StatusWaitsTests
{
    [Fact]
    public async Task AWaitEndsAtItsDeadlineWhenTheClockMovesWhileItsTimerIsSet()
    {
        // The clock jumps 29 of the 30 seconds just before the wait's timer is set: the one second left must still end it.
        var time = new JumpBeforeFirstTimer(TimeSpan.FromSeconds(29));
        var waits = new StatusWaits(new ScheduleChanges(), time, Options.Create(new StatusWaitOptions { MaxWaiters = 10 }));
        using var wait = waits.TryStart("lic", "sched", TimeSpan.FromSeconds(30))!;
        wait.Watch();

        var ended = wait.UntilChangeAsync(CancellationToken.None);
        Assert.True(time.Jumped);
        Assert.False(ended.IsCompleted, "The wait ended before its deadline.");
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(await ended.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>A fake clock that moves on by <c>jump</c> when the first timer is about to be set.</summary>
    private sealed class JumpBeforeFirstTimer(TimeSpan jump) : FakeTimeProvider
    {
        public bool Jumped { get; private set; }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (!Jumped)
            {
                Jumped = true;
                Advance(jump);
            }
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }
}
