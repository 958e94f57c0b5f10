using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store;

public sealed class PageWindowTests
{
    [Theory]
    // No offset_end: up to the page cap, never past the last row.
    [InlineData(0, null, 10, 0, 0, 0)]
    [InlineData(0, null, 10, 5, 0, 5)]
    [InlineData(0, null, 10, 10, 0, 10)]
    [InlineData(0, null, 10, 25, 0, 10)]
    [InlineData(10, null, 10, 25, 10, 20)]
    [InlineData(20, null, 10, 25, 20, 25)]
    [InlineData(24, null, 10, 25, 24, 25)]
    [InlineData(0, null, 1, 25, 0, 1)]
    public void WithoutEndTheWindowRunsToThePageCapOrTheLastRow(long start, long? end, int maxRows, long total, long expectedStart, long expectedEnd) =>
        Assert.Equal((expectedStart, expectedEnd), new PageWindow(start, end, maxRows).Resolve(total));

    [Theory]
    [InlineData(5, 8L, 10, 25, 5, 8)]
    [InlineData(0, 25L, 100, 25, 0, 25)]
    [InlineData(5, 30L, 100, 25, 5, 25)]
    [InlineData(0, 1L, 10, 25, 0, 1)]
    [InlineData(0, 50L, 10, 25, 0, 10)] // the cap holds even when a wider window slips past validation
    public void WithEndTheWindowStopsThereOrAtTheLastRow(long start, long? end, int maxRows, long total, long expectedStart, long expectedEnd) =>
        Assert.Equal((expectedStart, expectedEnd), new PageWindow(start, end, maxRows).Resolve(total));

    [Theory]
    [InlineData(5, 5L, 10, 25)]
    [InlineData(0, 0L, 10, 25)]
    [InlineData(25, null, 10, 25)]
    [InlineData(25, 30L, 10, 25)]
    [InlineData(30, null, 10, 25)]
    [InlineData(30, 35L, 10, 25)]
    [InlineData(1_000_000, null, 1_000_000, 3)]
    [InlineData(7, null, 10, 0)]
    public void EmptyWindowSitsAtStartEvenPastTheLastRow(long start, long? end, int maxRows, long total) =>
        Assert.Equal((start, start), new PageWindow(start, end, maxRows).Resolve(total));

    [Theory]
    [InlineData(7, 3L, 10, 25)]
    [InlineData(7, 0L, 10, 25)]
    [InlineData(30, 20L, 10, 25)]
    public void EndBeforeStartNeverMakesANegativeWindow(long start, long? end, int maxRows, long total)
    {
        var (resolvedStart, resolvedEnd) = new PageWindow(start, end, maxRows).Resolve(total);

        Assert.Equal(start, resolvedStart);
        Assert.Equal(start, resolvedEnd);
    }

    [Fact]
    public void PageCapAppliesToResultsLargerThanAnInt()
    {
        var total = (long)int.MaxValue * 4;

        Assert.Equal((999_000L, 1_999_000L), new PageWindow(999_000, null, 1_000_000).Resolve(total));
    }

    [Fact]
    public void EmptyRowPageAtAnOffsetHasNoRows()
    {
        var page = RowPage.Empty(42);

        Assert.Equal(42, page.Start);
        Assert.Equal(42, page.End);
        Assert.Equal(0, page.Count);
        var enumerator = page.GetEnumerator();
        Assert.False(enumerator.MoveNext());
    }
}
