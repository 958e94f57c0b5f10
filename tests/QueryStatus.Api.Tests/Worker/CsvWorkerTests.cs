using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CsvWorker;
using Microsoft.Extensions.DependencyInjection;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Worker;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Worker;

/// <summary>
/// The CSV worker sample end to end: a client submits date-range queries, the sample's handler serves them through
/// QueryStatus.Worker against the service, and the result holds exactly the rows read directly from the dataset.
/// </summary>
public sealed class CsvWorkerTests
{
    /// <summary>One generated dataset for the test run (about 7 MB, generated once).</summary>
    private static readonly Lazy<string> Dataset = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"qs-csvworker-tests-{Environment.ProcessId}", "ad-stats.csv");
        AdStatsDataset.Generate(path);
        return path;
    });

    private static Task<WorkerHarness> StartCsvWorkerAsync(QueryStatusFactory factory, int maxDaysPerTask = 31) =>
        WorkerHarness.StartAsync<AdStatsHandler>(factory,
            o => (o.BatchRows, o.BatchBytes) = (100, 64 * 1024),
            s => s.AddOptions<CsvDatasetOptions>().Configure(d => (d.Path, d.MaxDaysPerTask) = (Dataset.Value, maxDaysPerTask)));

    private static async Task<List<string>> ExpectedRowsAsync(string payload) =>
        await AdStatsQuery.Parse(Parse(payload)).ReadMatchingRowsAsync(Dataset.Value);

    private static async Task<List<string>> ResultRowsAsync(HttpClient client, string scheduleId) =>
        [.. (await client.ReadAllRowsAsync(scheduleId, pageSize: 1000)).Select(r => r.GetRawText())];

    [Fact]
    public async Task TheRowsOfADateRangeQueryEqualTheRowsReadDirectlyFromTheDataset()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        const string payload = """{"date_from":"2026-03-01","date_to":"2026-03-10","fields":["date","campaign","ad_group","device","clicks","cost"],"filters":{"country":"DE"}}""";
        var scheduleId = await client.SubmitAsync(payload);
        await using var worker = await StartCsvWorkerAsync(factory);

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        var rows = await ResultRowsAsync(client, scheduleId);
        Assert.Equal(await ExpectedRowsAsync(payload), rows);
        // 10 days × 8 campaigns × 2 ad groups × 3 devices in one country; the fields asked for, in that order.
        Assert.Equal(480, rows.Count);
        Assert.All(rows.Select(Parse), row => Assert.Equal(["date", "campaign", "ad_group", "device", "clicks", "cost"], row.EnumerateObject().Select(p => p.Name)));
        Assert.All(rows.Select(Parse), row => Assert.InRange(row.GetProperty("date").GetString()!, "2026-03-01", "2026-03-10"));
        Assert.True(worker.Calls.Of("rows").Count >= 4, "Sent in batches of 100 rows.");
    }

    [Fact]
    public async Task SeveralSubQueriesOfOneQueryComeBackInTheirOrder()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        string[] payloads =
        [
            """{"date":"2026-07-04","filters":{"campaign":"summer_sale","device":["mobile","tablet"]}}""",
            """{"date":"2026-01-01","fields":["country","impressions"],"filters":{"ad_group":"brand_search_2"}}""",
        ];
        var scheduleId = await client.SubmitAsync(payloads);
        await using var worker = await StartCsvWorkerAsync(factory);

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        var expected = (await ExpectedRowsAsync(payloads[0])).Concat(await ExpectedRowsAsync(payloads[1])).ToList();
        Assert.Equal(2 * 6 * 2 + 6 * 3, expected.Count);
        Assert.Equal(expected, await ResultRowsAsync(client, scheduleId));
    }

    [Fact]
    public async Task ARangeLongerThanMaxDaysPerTaskIsSplitIntoSubQueriesAndStillReturnsEveryRowInOrder()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        const string payload = """{"date_from":"2026-02-01","date_to":"2026-02-20","fields":["date","country","impressions"],"filters":{"device":"mobile","campaign":"brand_search"}}""";
        var scheduleId = await client.SubmitAsync(payload);
        await using var worker = await StartCsvWorkerAsync(factory, maxDaysPerTask: 7);

        var status = await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        Assert.Equal((4, 4), status.Progress()); // the submitted one, then 1–7, 8–14, 15–20 February
        var rows = await ResultRowsAsync(client, scheduleId);
        Assert.Equal(20 * 2 * 6, rows.Count);
        Assert.Equal(await ExpectedRowsAsync(payload), rows);
    }

    [Fact]
    public async Task AnInvalidPayloadFailsTheQueryWithInvalidSubqueryAndSaysWhy()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync("""{"date_from":"2026-03-10","date_to":"2026-03-01"}""");
        await using var worker = await StartCsvWorkerAsync(factory);

        var status = await WorkerHarness.WaitForStatusAsync(client, scheduleId, "FAILURE");

        Assert.Equal("date_to: must not be before date_from.", status.AssertFailure("INVALID_SUBQUERY"));
    }

    [Theory]
    [InlineData("""[]""", "must be a JSON object")]
    [InlineData("""{"date":"2026-03-01","date_to":"2026-03-02"}""", "either date, or both")]
    [InlineData("""{"date":"01.03.2026"}""", "date: a date as yyyy-MM-dd")]
    [InlineData("""{"date":"2026-03-01","fields":["clicks","clicks"]}""", "'clicks' appears twice")]
    [InlineData("""{"date":"2026-03-01","fields":["revenue"]}""", "fields: column names among")]
    [InlineData("""{"date":"2026-03-01","filters":{"region":"EU"}}""", "unknown column 'region'")]
    [InlineData("""{"date":"2026-03-01","filters":{"clicks":3}}""", "filters.clicks: a string")]
    [InlineData("""{"date":"2026-03-01","limit":10}""", "Unknown member 'limit'")]
    public void APayloadThatBreaksTheFormatIsRefusedNamingTheProblem(string payload, string message)
    {
        var error = Assert.Throws<AdStatsQueryException>(() => AdStatsQuery.Parse(Parse(payload)));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void AParsedQueryWritesBackAsAPayloadThatParsesToTheSameQuery()
    {
        var query = AdStatsQuery.Parse(Parse("""{"date":"2026-05-05","filters":{"country":["US","GB"]}}"""));

        var again = AdStatsQuery.Parse(Parse(Encoding.UTF8.GetString(query.ToJson())));

        Assert.Equal((new DateOnly(2026, 5, 5), new DateOnly(2026, 5, 5)), (again.DateFrom, again.DateTo));
        Assert.Equal(AdStatsDataset.Columns, again.Fields);
        Assert.Equal(["US", "GB"], again.Filters["country"]);
    }

    [Fact]
    public void TheDatasetIsTheSameForTheSameSeedAndHasARowForEveryDayAndCombination()
    {
        static (string Hash, int Lines) Generate(ulong seed)
        {
            using var writer = new StringWriter();
            AdStatsDataset.Write(writer, seed);
            var text = writer.ToString();
            return (Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))), text.Count(c => c == '\n'));
        }

        var (hash, lines) = Generate(AdStatsDataset.DefaultSeed);

        Assert.Equal(hash, Generate(AdStatsDataset.DefaultSeed).Hash);
        Assert.NotEqual(hash, Generate(AdStatsDataset.DefaultSeed + 1).Hash);
        Assert.Equal(1 + 105_120, lines);
        Assert.Equal(105_120, AdStatsDataset.RowCount);
    }

    [Fact]
    public void QuotedCsvFieldsAreRead() =>
        Assert.Equal(["a", "b,c", "say \"hi\"", ""], CsvLine.Split("a,\"b,c\",\"say \"\"hi\"\"\","));
}
