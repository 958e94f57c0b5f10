using System.Net;
using System.Text;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store;

/// <summary>One host started on a temporary seed file; each test reads its own schedules from it.</summary>
public sealed class SeededHostFixture : IDisposable
{
    /// <summary>Rows of <c>seed_rows</c>, exactly as they are written in the file.</summary>
    public static readonly string[] ExactRows =
    [
        """{"date":"2026-11-01","campaign":"Campaign 0","impressions":1000,"clicks":12}""",
        """{ "date" : "2026-11-02",   "campaign" : "Campaign   1" , "clicks":13 }""",
        """{"name":"Zoë","city":"東京","mood":"🚀"}""",
        """{"escaped":"\u00e9\t\"q\"","literal":"é"}""",
        """[1, 2.50, -3e+2, 1E-7, true, false, null]""",
        "\"  a string row   with spaces  \"",
        "12345678901234567890123",
        """{"nested" : { "deep" : [ [ ] , { } ] } }""",
    ];

    public static readonly string[] OtherLicenseRows = ["""{"secret": "not yours"}"""];

    public const string Rows = "seed_rows";
    public const string Failed = "seed_failed";
    public const string Stopped = "seed_stopped";
    public const string Running = "seed_running";
    public const string Queued = "seed_queued";
    public const string Scheduled = "seed_scheduled";
    public const string Paged = "seed_paged";
    public const string Shared = "seed_shared";
    public const string OtherRunning = "seed_other_running";
    public const int PagedRows = 25;

    private readonly TempSeedFile _seed;

    public SeededHostFixture()
    {
        static string Data(IEnumerable<string> rows) => "[\n    " + string.Join(",\n    ", rows) + "\n  ]";
        var paged = Enumerable.Range(0, PagedRows).Select(PagedRow);

        _seed = TempSeedFile.WithSchedules(
            $$"""{"schedule_id": "{{Rows}}", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE", "DONE", "DONE"], "failure": null, "data": {{Data(ExactRows)}}}""",
            $$"""{"schedule_id": "{{Failed}}", "license_id": "lic_test", "status_code": "FAILURE", "subqueries": ["DONE", "DONE"], "failure": {"code": "DATA_SOURCE_ERROR", "message": "The data source rejected the request: account access revoked."}, "finished_at": "2026-11-29T11:30:00"}""",
            $$"""{"schedule_id": "{{Stopped}}", "license_id": "lic_test", "status_code": "STOPPED", "subqueries": ["DONE"], "finished_at": "2026-11-29T13:15:00+02:00"}""",
            $$"""{"schedule_id": "{{Running}}", "license_id": "lic_test", "status_code": "RUNNING", "subqueries": ["DONE", "RUNNING", "QUEUED", "QUEUED"]}""",
            $$"""{"schedule_id": "{{Queued}}", "license_id": "lic_test", "status_code": "QUEUED", "subqueries": ["QUEUED", "QUEUED"]}""",
            $$"""{"schedule_id": "{{Scheduled}}", "license_id": "lic_test", "status_code": "SCHEDULED", "subqueries": ["QUEUED"]}""",
            $$"""{"schedule_id": "{{Paged}}", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "data": {{Data(paged)}}}""",
            $$"""{"schedule_id": "{{Shared}}", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "data": ["mine"]}""",
            $$"""{"schedule_id": "{{Shared}}", "license_id": "lic_other", "status_code": "SUCCESS", "subqueries": ["DONE"], "data": {{Data(OtherLicenseRows)}}}""",
            $$"""{"schedule_id": "{{OtherRunning}}", "license_id": "lic_other", "status_code": "RUNNING", "subqueries": ["RUNNING", "RUNNING", "QUEUED"]}""");
        SeedPath = _seed.Path;
        Factory = _seed.CreateFactory();
        // Start the host now, so that every schedule is loaded at the fake clock's start.
        Factory.CreateClient().Dispose();
    }

    public const int ScheduleCount = 10;

    public string SeedPath { get; }

    public QueryStatusFactory Factory { get; }

    public static string PagedRow(int i) => $"{{ \"n\": {i},  \"label\": \"row {i}\" }}";

    public void Dispose()
    {
        Factory.Dispose();
        _seed.Dispose();
    }
}

public sealed class SeedFileServingTests(SeededHostFixture seeded) : IClassFixture<SeededHostFixture>
{
    private readonly QueryStatusFactory _factory = seeded.Factory;

    [Fact]
    public async Task SeededRowsAreServedExactlyAsWrittenInTheFile()
    {
        using var client = _factory.CreateClientWithApiKey();

        using var response = await client.GetStatusAsync(SeededHostFixture.Rows);
        var raw = await response.Content.ReadAsByteArrayAsync();
        var body = await response.ReadJsonAsync();

        Assert.Equal(SeededHostFixture.ExactRows, body.RawRows());
        // Also the bytes on the wire, not only after a round trip through a parser.
        var text = Encoding.UTF8.GetString(raw);
        foreach (var row in SeededHostFixture.ExactRows)
        {
            Assert.Contains(row, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SeededSuccessReportsEveryQueryReadyAndItsRowCount()
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(SeededHostFixture.Rows);

        Assert.Equal("SUCCESS", body.StatusCode());
        Assert.Equal(3, body.Counter("progress", "queries_ready"));
        Assert.Equal(3, body.Counter("progress", "queries_total"));
        Assert.Equal(SeededHostFixture.ExactRows.Length, body.Counter("paging", "total_rows"));
        Assert.False(body.GetProperty("meta").TryGetProperty("failure", out _));
    }

    [Fact]
    public async Task SeededFailureIsServedWithItsCodeAndMessageAndNoRows()
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(SeededHostFixture.Failed);

        Assert.Equal("FAILURE", body.StatusCode());
        var failure = body.GetProperty("meta").GetProperty("failure");
        Assert.Equal("DATA_SOURCE_ERROR", failure.GetProperty("code").GetString());
        Assert.Equal("The data source rejected the request: account access revoked.", failure.GetProperty("message").GetString());
        Assert.Equal(0, body.GetProperty("data").GetArrayLength());
        Assert.Equal(0, body.Counter("paging", "total_rows"));
        Assert.Equal(2, body.Counter("progress", "queries_ready"));
    }

    [Fact]
    public async Task SeededStoppedScheduleHasNoFailureAndNoRows()
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(SeededHostFixture.Stopped);

        Assert.Equal("STOPPED", body.StatusCode());
        Assert.False(body.GetProperty("meta").TryGetProperty("failure", out _));
        Assert.Equal(0, body.GetProperty("data").GetArrayLength());
    }

    [Theory]
    [InlineData(SeededHostFixture.Running, "RUNNING", 1, 4)]
    [InlineData(SeededHostFixture.Queued, "QUEUED", 0, 2)]
    [InlineData(SeededHostFixture.Scheduled, "SCHEDULED", 0, 1)]
    [InlineData(SeededHostFixture.Rows, "SUCCESS", 3, 3)]
    public async Task SeededCountersCountTheScheduleAndTheLicensesUnfinishedTasksOnly(string scheduleId, string status, int ready, int total)
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(scheduleId);

        Assert.Equal(status, body.StatusCode());
        Assert.Equal(ready, body.Counter("progress", "queries_ready"));
        Assert.Equal(total, body.Counter("progress", "queries_total"));
        // lic_test's queue: QUEUED tasks 2 (running) + 2 (queued); RUNNING tasks 1. A SCHEDULED run's tasks
        // are not in the queue until its start time. lic_other's schedule (2 RUNNING, 1 QUEUED) must not count.
        Assert.Equal(4, body.Counter("workflow", "tasks_scheduled"));
        Assert.Equal(1, body.Counter("workflow", "tasks_running"));
    }

    [Fact]
    public async Task OtherLicensesCountersLeaveOutThisLicensesTasks()
    {
        using var client = _factory.CreateClientWithApiKey(TestKeys.Other);

        var body = await client.StatusAsync(SeededHostFixture.OtherRunning);

        Assert.Equal(1, body.Counter("workflow", "tasks_scheduled"));
        Assert.Equal(2, body.Counter("workflow", "tasks_running"));
        Assert.Equal(0, body.Counter("progress", "queries_ready"));
    }

    [Theory]
    [InlineData(SeededHostFixture.Failed, "2026-11-29T12:30:00Z")] // finished_at 11:30 without an offset is UTC.
    [InlineData(SeededHostFixture.Stopped, "2026-11-29T12:15:00Z")] // finished_at 13:15+02:00 is 11:15Z.
    public async Task SeededFinishedAtStartsTheRetentionClock(string scheduleId, string expiresAt)
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(scheduleId);

        Assert.Equal(expiresAt, body.GetProperty("meta").GetProperty("expires_at").GetString());
    }

    [Fact]
    public async Task FinishedScheduleWithoutFinishedAtExpiresOneRetentionAfterLoading()
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(SeededHostFixture.Rows);

        // The fixture never moves its clock, so "now" is the load time.
        Assert.Equal(_factory.Time.GetUtcNow() + TimeSpan.FromHours(1), body.ExpiresAt());
        Assert.Equal("2026-11-29T13:00:00Z", body.GetProperty("meta").GetProperty("expires_at").GetString());
    }

    [Theory]
    [InlineData(SeededHostFixture.Running)]
    [InlineData(SeededHostFixture.Queued)]
    [InlineData(SeededHostFixture.Scheduled)]
    public async Task UnfinishedSeededScheduleHasNoExpiresAt(string scheduleId)
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(scheduleId);

        Assert.False(body.GetProperty("meta").TryGetProperty("expires_at", out _));
    }

    [Fact]
    public async Task SameScheduleIdUnderTwoLicensesServesEachLicenseItsOwnRows()
    {
        using var mine = _factory.CreateClientWithApiKey(TestKeys.Primary);
        using var theirs = _factory.CreateClientWithApiKey(TestKeys.Other);

        Assert.Equal(["\"mine\""], (await mine.StatusAsync(SeededHostFixture.Shared)).RawRows());
        Assert.Equal(SeededHostFixture.OtherLicenseRows, (await theirs.StatusAsync(SeededHostFixture.Shared)).RawRows());
    }

    [Fact]
    public async Task AnotherLicensesSeededScheduleIsNotFound()
    {
        using var client = _factory.CreateClientWithApiKey(TestKeys.Primary);

        using var response = await client.GetStatusAsync(SeededHostFixture.OtherRunning);

        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task SeededRowsArePagedByOffsetsWithTheirBytesIntact()
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(SeededHostFixture.Paged, "offset_start=10&offset_end=15");

        Assert.Equal(Enumerable.Range(10, 5).Select(SeededHostFixture.PagedRow), body.RawRows());
        Assert.Equal(SeededHostFixture.PagedRows, body.Counter("paging", "total_rows"));
        Assert.Equal(15, body.Counter("paging", "next_offset_start"));
    }

    [Fact]
    public async Task LastPageOfSeededRowsHasNoNextOffset()
    {
        using var client = _factory.CreateClientWithApiKey();

        var body = await client.StatusAsync(SeededHostFixture.Paged, "offset_start=20");

        Assert.Equal(Enumerable.Range(20, 5).Select(SeededHostFixture.PagedRow), body.RawRows());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, body.GetProperty("meta").GetProperty("paging").GetProperty("next_offset_start").ValueKind);
    }

    [Fact]
    public void SeedLoaderLogsHowManySchedulesItLoadedFromWhichFile()
    {
        var loaded = Assert.Single(_factory.Logs.Events, e => e.MessageTemplate.Text == "Loaded {Count} schedules from {SeedFile}");

        Assert.Equal(SeededHostFixture.ScheduleCount.ToString(System.Globalization.CultureInfo.InvariantCulture), loaded.Properties["Count"].ToString());
        Assert.Contains(seeded.SeedPath, loaded.Properties["SeedFile"].ToString(), StringComparison.Ordinal);
    }
}
