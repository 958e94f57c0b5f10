using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Status.StatusTestKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>Paging through a result of many thousand rows with the default page cap (10,000).</summary>
public class StatusPagingTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private const int PageCap = 10_000;

    private sealed record Page(long Start, long End, long TotalRows, long? Next, List<string> Rows);

    private async Task<(HttpClient Client, ScheduleRecord Schedule)> SucceededScheduleAsync(int rows)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license, rows));
        return (factory.CreateJwtClient(license), schedule);
    }

    private static async Task<Page> GetPageAsync(HttpClient client, ScheduleRecord schedule, long? start = null, long? end = null)
    {
        List<(string, string)> parameters = [("schedule_id", schedule.ScheduleId)];
        if (start is { } s)
        {
            parameters.Add(("offset_start", s.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (end is { } e)
        {
            parameters.Add(("offset_end", e.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        var body = await client.GetOkAsync(Url([.. parameters]));
        var paging = body.Paging();
        var page = new Page(
            paging.GetProperty("offset_start").GetInt64(),
            paging.GetProperty("offset_end").GetInt64(),
            paging.GetProperty("total_rows").GetInt64(),
            body.NextOffsetStart(),
            body.RawRows());
        Assert.Equal(page.End - page.Start, page.Rows.Count);
        return page;
    }

    private static List<string> ExpectedRows(long from, long to) => [.. Enumerable.Range((int)from, (int)(to - from)).Select(i => DefaultRow(i))];

    [Fact]
    public async Task FollowingNextOffsetStartReadsEveryRowOnceAndInOrder()
    {
        const int total = 25_000;
        var (client, schedule) = await SucceededScheduleAsync(total);
        using var _ = client;

        var pages = new List<Page> { await GetPageAsync(client, schedule) };
        while (pages[^1].Next is { } next)
        {
            Assert.True(pages.Count < 10, "next_offset_start never became null");
            pages.Add(await GetPageAsync(client, schedule, start: next));
        }

        Assert.Equal(
            [(0L, 10_000L, (long?)10_000L), (10_000, 20_000, 20_000), (20_000, 25_000, null)],
            pages.Select(p => (p.Start, p.End, p.Next)));
        Assert.All(pages, p => Assert.Equal(total, p.TotalRows));
        Assert.Equal(ExpectedRows(0, total), pages.SelectMany(p => p.Rows));
    }

    [Fact]
    public async Task ResultThatFillsItsLastPageExactlyEndsWithoutAnEmptyPage()
    {
        var (client, schedule) = await SucceededScheduleAsync(2 * PageCap);
        using var _ = client;

        var first = await GetPageAsync(client, schedule);
        var second = await GetPageAsync(client, schedule, start: first.Next);

        Assert.Equal(PageCap, first.Next);
        Assert.Equal((PageCap, 2L * PageCap), (second.Start, second.End));
        Assert.Null(second.Next);
        Assert.Equal(ExpectedRows(0, 2 * PageCap), first.Rows.Concat(second.Rows));
    }

    [Fact]
    public async Task ExplicitWindowsConcatenateToExactlyTheStoredRows()
    {
        const int total = 25_000;
        const int width = 7_000;
        var (client, schedule) = await SucceededScheduleAsync(total);
        using var _ = client;

        var pages = new List<Page>();
        long start = 0;
        while (true)
        {
            Assert.True(pages.Count < 10, "next_offset_start never became null");
            var page = await GetPageAsync(client, schedule, start, start + width);
            pages.Add(page);
            if (page.Next is not { } next)
            {
                break;
            }
            Assert.Equal(page.End, next);
            start = next;
        }

        Assert.Equal(
            [(0L, 7_000L), (7_000, 14_000), (14_000, 21_000), (21_000, 25_000)],
            pages.Select(p => (p.Start, p.End)));
        Assert.Equal(ExpectedRows(0, total), pages.SelectMany(p => p.Rows));
    }

    [Fact]
    public async Task WindowInsideTheResultReturnsExactlyThoseRows()
    {
        var (client, schedule) = await SucceededScheduleAsync(25_000);
        using var _ = client;

        var page = await GetPageAsync(client, schedule, 12_345, 12_350);

        Assert.Equal(ExpectedRows(12_345, 12_350), page.Rows);
        Assert.Equal((12_345L, 12_350L, 25_000L, (long?)12_350L), (page.Start, page.End, page.TotalRows, page.Next));
    }

    [Fact]
    public async Task DefaultPageRunsThePageCapFromOffsetStart()
    {
        var (client, schedule) = await SucceededScheduleAsync(25_000);
        using var _ = client;

        var page = await GetPageAsync(client, schedule, start: 5);

        Assert.Equal((5L, 10_005L, (long?)10_005L), (page.Start, page.End, page.Next));
        Assert.Equal(ExpectedRows(5, 10_005), page.Rows);
    }

    [Fact]
    public async Task WindowCrossingTheLastRowIsCutThereAndIsTheLastPage()
    {
        var (client, schedule) = await SucceededScheduleAsync(25_000);
        using var _ = client;

        var page = await GetPageAsync(client, schedule, 24_990, 25_010);

        Assert.Equal(ExpectedRows(24_990, 25_000), page.Rows);
        Assert.Equal((24_990L, 25_000L), (page.Start, page.End));
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task WindowEndingExactlyAtTheLastRowIsTheLastPage()
    {
        var (client, schedule) = await SucceededScheduleAsync(25_000);
        using var _ = client;

        var page = await GetPageAsync(client, schedule, 24_000, 25_000);

        Assert.Equal(1_000, page.Rows.Count);
        Assert.Null(page.Next);
    }

    [Theory]
    [InlineData(25_000L)]
    [InlineData(25_001L)]
    [InlineData(30_000L)]
    [InlineData(1_000_000L)]
    public async Task OffsetStartAtOrPastTheLastRowGivesEmptyDataNotAnError(long start)
    {
        var (client, schedule) = await SucceededScheduleAsync(25_000);
        using var _ = client;

        var page = await GetPageAsync(client, schedule, start: start);

        Assert.Empty(page.Rows);
        Assert.Equal((start, start, 25_000L), (page.Start, page.End, page.TotalRows));
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task ExplicitWindowPastTheLastRowGivesEmptyDataNotAnError()
    {
        var (client, schedule) = await SucceededScheduleAsync(3);
        using var _ = client;

        var page = await GetPageAsync(client, schedule, 10, 20);

        Assert.Empty(page.Rows);
        Assert.Equal((10L, 10L, 3L), (page.Start, page.End, page.TotalRows));
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task EmptyWindowInsideTheResultPointsNextAtItsEnd()
    {
        var (client, schedule) = await SucceededScheduleAsync(300);
        using var _ = client;

        var page = await GetPageAsync(client, schedule, 100, 100);

        Assert.Empty(page.Rows);
        Assert.Equal((100L, 100L, (long?)100L), (page.Start, page.End, page.Next));
    }

    [Fact]
    public async Task RowsAroundTheStoresIndexSegmentBoundaryComeBackInOrder()
    {
        // The row buffer indexes rows in segments of 65,536; read across the first boundary and to the end.
        const int total = 70_000;
        var (client, schedule) = await SucceededScheduleAsync(total);
        using var _ = client;

        var across = await GetPageAsync(client, schedule, 65_530, 65_542);
        var last = await GetPageAsync(client, schedule, start: 65_536);

        Assert.Equal(ExpectedRows(65_530, 65_542), across.Rows);
        Assert.Equal(ExpectedRows(65_536, total), last.Rows);
        Assert.Null(last.Next);
    }

    [Fact]
    public async Task LargeRowsSpanningStorageChunksComeBackWhole()
    {
        // Rows from a few bytes to over 1 MiB, so that some fill or exceed the store's chunks.
        int[] sizes = [10, 4_000, 5_000, 70_000, 1_100_000, 3, 600_000, 600_000, 12];
        var rows = sizes.Select((size, i) => $"{{\"i\":{i},\"pad\":\"{new string((char)('a' + i), size)}\"}}").ToArray();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(new ScheduleRecord(
            TestData.NewScheduleId(), license, ScheduleStatus.Success, [SubQueryState.Done],
            TestData.Rows(rows.Length, i => rows[i]), null, null));
        using var client = factory.CreateJwtClient(license);

        var all = await GetPageAsync(client, schedule);
        var middle = await GetPageAsync(client, schedule, 4, 7);

        Assert.Equal(rows, all.Rows);
        Assert.Equal(rows[4..7], middle.Rows);
    }

    [Fact]
    public async Task PagesOfAResultAreTheSameWhenReadAgain()
    {
        var (client, schedule) = await SucceededScheduleAsync(12_000);
        using var _ = client;

        var once = await GetPageAsync(client, schedule, start: 10_000);
        var again = await GetPageAsync(client, schedule, start: 10_000);

        Assert.Equal(once.Rows, again.Rows);
        Assert.Equal(ExpectedRows(10_000, 12_000), once.Rows);
    }
}

public sealed class StatusPagingTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : StatusPagingTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
