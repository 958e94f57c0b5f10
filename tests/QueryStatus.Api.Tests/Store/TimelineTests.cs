using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store;

public sealed class TimelineTests
{
    private static readonly DateTimeOffset T0 = QueryStatusFactory.Start;

    private sealed record Owner(string Name);

    private static List<string> TakeDue(Timeline<Owner> timeline, DateTimeOffset now)
    {
        var taken = new List<string>();
        while (timeline.TryTakeDue(now, out var owner, out _))
        {
            taken.Add(owner.Name);
        }
        return taken;
    }

    [Fact]
    public void DueOwnersComeOutEarliestFirstAndEqualDeadlinesInTheOrderTheyWereSet()
    {
        var timeline = new Timeline<Owner>();
        timeline.Set(new Owner("late"), T0.AddMinutes(3));
        timeline.Set(new Owner("tie-1"), T0.AddMinutes(1));
        timeline.Set(new Owner("early"), T0);
        timeline.Set(new Owner("tie-2"), T0.AddMinutes(1));

        Assert.Equal(["early", "tie-1", "tie-2"], TakeDue(timeline, T0.AddMinutes(2)));
        Assert.Equal(1, timeline.Count);
        Assert.Equal(["late"], TakeDue(timeline, T0.AddMinutes(3)));
        Assert.Equal(0, timeline.Count);
    }

    [Fact]
    public void SettingAnOwnersDeadlineAgainReplacesItsEarlierOne()
    {
        var timeline = new Timeline<Owner>();
        var lease = new Owner("lease");
        for (var heartbeat = 0; heartbeat < 1000; heartbeat++)
        {
            timeline.Set(lease, T0.AddSeconds(heartbeat + 60));
        }

        Assert.Equal(1, timeline.Count);
        Assert.Empty(TakeDue(timeline, T0.AddSeconds(1000)));
        Assert.True(timeline.TryPeek(out var next, out var due));
        Assert.Same(lease, next);
        Assert.Equal(T0.AddSeconds(1059), due);
    }

    [Fact]
    public void CancelledOwnerIsNeitherDueNorHeld()
    {
        var timeline = new Timeline<Owner>();
        var run = new Owner("run");
        timeline.Set(run, T0);
        timeline.Set(new Owner("other"), T0.AddMinutes(1));

        timeline.Cancel(run);
        timeline.Cancel(run);

        Assert.Equal(1, timeline.Count);
        Assert.Equal(["other"], TakeDue(timeline, T0.AddHours(1)));
    }

    [Fact]
    public void NothingIsDueBeforeItsDeadline()
    {
        var timeline = new Timeline<Owner>();
        timeline.Set(new Owner("a"), T0.AddSeconds(1));

        Assert.False(timeline.TryTakeDue(T0, out _, out _));
        Assert.Equal(1, timeline.Count);
    }
}
