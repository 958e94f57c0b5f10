using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Status.StatusTestKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>The 200 body: meta in every state, failure and expiry, paging fields, and rows exactly as stored.</summary>
public partial class StatusResponseTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [GeneratedRegex(@"^[A-Za-z0-9_-]{32}\z")]
    private static partial Regex RequestIdPattern();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")]
    private static partial Regex IsoUtcPattern();

    private async Task<(HttpClient Client, ScheduleRecord Schedule)> ScheduleInStateAsync(
        ScheduleStatus status, DateTimeOffset? finishedAt = null)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(InState(license, status, finishedAt: finishedAt));
        return (factory.CreateJwtClient(license), schedule);
    }

    [Fact]
    public async Task RequestIdInMetaEqualsTheHeaderAndIs32UrlSafeCharacters()
    {
        var (client, schedule) = await ScheduleInStateAsync(ScheduleStatus.Success);
        using var _ = client;

        using var first = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        using var second = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        var firstId = (await first.ReadJsonAsync()).Meta().GetProperty("request_id").GetString();
        var secondId = (await second.ReadJsonAsync()).Meta().GetProperty("request_id").GetString();

        Assert.Equal(first.Headers.GetValues("X-Request-Id").Single(), firstId);
        Assert.Equal(second.Headers.GetValues("X-Request-Id").Single(), secondId);
        Assert.Matches(RequestIdPattern(), firstId);
        Assert.Matches(RequestIdPattern(), secondId);
        Assert.NotEqual(firstId, secondId);
    }

    public enum HeaderCase
    {
        Ok,
        BadParameter,
        MalformedJson,
        UnknownSchedule,
        MalformedApiKeyParameter,
        MalformedJsonWithoutOtherCredential,
    }

    [Theory]
    [InlineData(HeaderCase.Ok, HttpStatusCode.OK)]
    [InlineData(HeaderCase.BadParameter, HttpStatusCode.BadRequest)]
    [InlineData(HeaderCase.MalformedJson, HttpStatusCode.BadRequest)]
    [InlineData(HeaderCase.UnknownSchedule, HttpStatusCode.NotFound)]
    [InlineData(HeaderCase.MalformedApiKeyParameter, HttpStatusCode.BadRequest)]
    [InlineData(HeaderCase.MalformedJsonWithoutOtherCredential, HttpStatusCode.BadRequest)]
    public async Task EveryResponseCarriesRequestIdRateLimitAndCorsHeaders(HeaderCase @case, HttpStatusCode expected)
    {
        var (jwtClient, schedule) = await ScheduleInStateAsync(ScheduleStatus.Running);
        using var _ = jwtClient;
        using var anonymous = factory.CreateAnonymousClient();
        var id = schedule.ScheduleId;

        using var response = @case switch
        {
            HeaderCase.Ok => await jwtClient.GetAsync(Url(("schedule_id", id))),
            HeaderCase.BadParameter => await jwtClient.GetAsync(Url(("schedule_id", id), ("offset_start", "-1"))),
            HeaderCase.MalformedJson => await jwtClient.GetAsync(JsonUrl("{")),
            HeaderCase.UnknownSchedule => await jwtClient.GetAsync(Url(("schedule_id", TestData.NewScheduleId()))),
            HeaderCase.MalformedApiKeyParameter => await anonymous.GetAsync(Url(("schedule_id", id), ("api_key", "not a key"))),
            HeaderCase.MalformedJsonWithoutOtherCredential => await anonymous.GetAsync(JsonUrl("{")),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Matches(RequestIdPattern(), Assert.Single(HeaderValues(response, "X-Request-Id")));
        Assert.Equal("1000000", Assert.Single(HeaderValues(response, "X-RateLimit-Limit")));
        Assert.True(long.TryParse(Assert.Single(HeaderValues(response, "X-RateLimit-Remaining")), out var remaining));
        Assert.InRange(remaining, 0, 1_000_000);
        Assert.Equal("*", Assert.Single(HeaderValues(response, "Access-Control-Allow-Origin")));
    }

    private static IEnumerable<string> HeaderValues(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values : [];

    [Theory]
    [InlineData(ScheduleStatus.Scheduled, "SCHEDULED")]
    [InlineData(ScheduleStatus.Queued, "QUEUED")]
    [InlineData(ScheduleStatus.Running, "RUNNING")]
    [InlineData(ScheduleStatus.Success, "SUCCESS")]
    [InlineData(ScheduleStatus.Failure, "FAILURE")]
    [InlineData(ScheduleStatus.Stopped, "STOPPED")]
    public async Task StatusCodeNamesEachState(ScheduleStatus status, string expected)
    {
        var (client, schedule) = await ScheduleInStateAsync(status);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        Assert.Equal(expected, body.Meta().GetProperty("status_code").GetString());
        Assert.Equal(schedule.ScheduleId, body.Meta().GetProperty("schedule_id").GetString());
    }

    [Theory]
    [InlineData(ScheduleStatus.Scheduled)]
    [InlineData(ScheduleStatus.Queued)]
    [InlineData(ScheduleStatus.Running)]
    [InlineData(ScheduleStatus.Success)]
    [InlineData(ScheduleStatus.Failure)]
    [InlineData(ScheduleStatus.Stopped)]
    public async Task BodyHasMetaAndDataWithTheFieldsOfItsState(ScheduleStatus status)
    {
        var (client, schedule) = await ScheduleInStateAsync(status);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        Assert.Equal(["data", "meta"], body.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(JsonValueKind.Array, body.GetProperty("data").ValueKind);

        List<string> expected = ["paging", "progress", "request_id", "schedule_id", "status_code", "workflow"];
        if (status.IsFinished())
        {
            expected.Add("expires_at");
        }
        if (status == ScheduleStatus.Failure)
        {
            expected.Add("failure");
        }
        Assert.Equal(expected.Order(), body.Meta().EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(
            ["next_offset_start", "offset_end", "offset_start", "total_rows"],
            body.Paging().EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(["queries_ready", "queries_total"], body.Meta().GetProperty("progress").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(["tasks_running", "tasks_scheduled"], body.Meta().GetProperty("workflow").EnumerateObject().Select(p => p.Name).Order());
    }

    [Theory]
    [InlineData(ScheduleStatus.Scheduled)]
    [InlineData(ScheduleStatus.Queued)]
    [InlineData(ScheduleStatus.Running)]
    [InlineData(ScheduleStatus.Failure)]
    [InlineData(ScheduleStatus.Stopped)]
    public async Task DataIsEmptyAndTotalRowsZeroInEveryStateButSuccess(ScheduleStatus status)
    {
        var (client, schedule) = await ScheduleInStateAsync(status);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        Assert.Empty(body.RawRows());
        Assert.Equal(0, body.Paging().GetProperty("total_rows").GetInt64());
        Assert.Equal(0, body.Paging().GetProperty("offset_start").GetInt64());
        Assert.Equal(0, body.Paging().GetProperty("offset_end").GetInt64());
        Assert.Equal(JsonValueKind.Null, body.Paging().GetProperty("next_offset_start").ValueKind);
    }

    [Theory]
    [InlineData(ScheduleStatus.Running)]
    [InlineData(ScheduleStatus.Failure)]
    public async Task OffsetsOnAScheduleWithoutDataGiveAnEmptyWindowAtOffsetStart(ScheduleStatus status)
    {
        var (client, schedule) = await ScheduleInStateAsync(status);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_start", "5"), ("offset_end", "20")));

        Assert.Empty(body.RawRows());
        Assert.Equal(5, body.Paging().GetProperty("offset_start").GetInt64());
        Assert.Equal(5, body.Paging().GetProperty("offset_end").GetInt64());
        Assert.Equal(0, body.Paging().GetProperty("total_rows").GetInt64());
        Assert.Equal(JsonValueKind.Null, body.Paging().GetProperty("next_offset_start").ValueKind);
    }

    [Fact]
    public async Task SuccessServesItsRowsAndTotalRows()
    {
        var (client, schedule) = await ScheduleInStateAsync(ScheduleStatus.Success);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        Assert.Equal([DefaultRow(0), DefaultRow(1), DefaultRow(2)], body.RawRows());
        var paging = body.Paging();
        Assert.Equal(0, paging.GetProperty("offset_start").GetInt64());
        Assert.Equal(3, paging.GetProperty("offset_end").GetInt64());
        Assert.Equal(3, paging.GetProperty("total_rows").GetInt64());
        Assert.Equal(JsonValueKind.Null, paging.GetProperty("next_offset_start").ValueKind);
    }

    [Fact]
    public async Task SuccessWithoutRowsIsAnEmptyResult()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license, rows: 0));
        using var client = factory.CreateJwtClient(license);

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        Assert.Equal("SUCCESS", body.Meta().GetProperty("status_code").GetString());
        Assert.Empty(body.RawRows());
        Assert.Equal(0, body.Paging().GetProperty("total_rows").GetInt64());
        Assert.Equal(JsonValueKind.Null, body.Paging().GetProperty("next_offset_start").ValueKind);
    }

    [Fact]
    public async Task FailureCarriesItsCodeAndMessage()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(
            TestData.Failed(license, code: "QUERY_TIMEOUT", message: "The query ran longer than 30 minutes \u2014 \"stopped\"."));
        using var client = factory.CreateJwtClient(license);

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        var failure = body.Meta().GetProperty("failure");
        Assert.Equal(["code", "message"], failure.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("QUERY_TIMEOUT", failure.GetProperty("code").GetString());
        Assert.Equal("The query ran longer than 30 minutes \u2014 \"stopped\".", failure.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(ScheduleStatus.Success)]
    [InlineData(ScheduleStatus.Failure)]
    [InlineData(ScheduleStatus.Stopped)]
    public async Task FinishedScheduleExpiresOneRetentionAfterItFinished(ScheduleStatus status)
    {
        var finishedAt = QueryStatusFactory.Start.AddMinutes(-10);
        var (client, schedule) = await ScheduleInStateAsync(status, finishedAt);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        var expiresAt = body.Meta().GetProperty("expires_at").GetString()!;
        Assert.Matches(IsoUtcPattern(), expiresAt);
        Assert.Equal("2026-11-29T12:50:00Z", expiresAt);
        Assert.Equal(finishedAt + TimeSpan.FromHours(1), DateTimeOffset.Parse(expiresAt, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task ScheduleStoredWithoutFinishTimeExpiresOneRetentionAfterItWasStored()
    {
        // The store stamps a finished schedule without finished_at with its clock (the fake start time here).
        var (client, schedule) = await ScheduleInStateAsync(ScheduleStatus.Success, finishedAt: null);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        Assert.Equal("2026-11-29T13:00:00Z", body.Meta().GetProperty("expires_at").GetString());
    }

    [Fact]
    public async Task ExpiresAtIsInUtcWithFractionalSecondsWhenFinishedAtHasThem()
    {
        var finishedAt = new DateTimeOffset(2026, 11, 29, 13, 30, 15, 123, TimeSpan.FromHours(2)); // 11:30:15.123Z
        var (client, schedule) = await ScheduleInStateAsync(ScheduleStatus.Stopped, finishedAt);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        var expiresAt = body.Meta().GetProperty("expires_at").GetString()!;
        Assert.Matches(IsoUtcPattern(), expiresAt);
        Assert.Equal("2026-11-29T12:30:15.123Z", expiresAt);
    }

    [Theory]
    [InlineData(ScheduleStatus.Scheduled)]
    [InlineData(ScheduleStatus.Queued)]
    [InlineData(ScheduleStatus.Running)]
    public async Task UnfinishedScheduleHasNoExpiryAndNoFailure(ScheduleStatus status)
    {
        var (client, schedule) = await ScheduleInStateAsync(status);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));

        Assert.False(body.Meta().TryGetProperty("expires_at", out var expiresAt), $"Unexpected expires_at {expiresAt}");
        Assert.False(body.Meta().TryGetProperty("failure", out var failure), $"Unexpected failure {failure}");
    }

    [Fact]
    public async Task ExpiryFollowsConfiguredRetentionAndExpiredScheduleIsNotFound()
    {
        await using var shortRetention = ClientKit.NewFactory(factory.Provider, ("Store:Retention", "00:10:00"));
        var license = TestData.NewLicenseId();
        var schedule = await shortRetention.PutAsync(TestData.Success(license, finishedAt: QueryStatusFactory.Start));
        using var client = shortRetention.CreateJwtClient(license);

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));
        Assert.Equal("2026-11-29T12:10:00Z", body.Meta().GetProperty("expires_at").GetString());

        shortRetention.Time.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        using (var justBefore = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId))))
        {
            Assert.Equal(HttpStatusCode.OK, justBefore.StatusCode);
        }

        shortRetention.Time.Advance(TimeSpan.FromTicks(1));
        using var expired = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        await expired.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task RowsComeBackByteForByteAsStored()
    {
        string[] rows =
        [
            "{ \"a\" :  1 ,\t\"b\" : \"caf\u00e9 \u00fc \u65e5\u672c \U0001F600\" }",
            "  {\"leading\":\"and trailing whitespace\"}  ",
            "{\r\n  \"crlf\": true\r\n}",
            "[1, 2 ,3]",
            "\"escapes \\u00e9 \\\" \\\\ \\n stay escaped\"",
            "{\"n\":1.50,\"e\":1E+2,\"neg\":-0.0,\"big\":123456789012345678901234567890}",
            "null",
            "{\"ls\":\"\u2028\u2029\",\"nbsp\":\"\u00a0\",\"zwj\":\"\U0001F468\u200D\U0001F469\"}",
            "{\"dup\":1,\"dup\":2}",
            "{\"html\":\"<script>&amp;'</script>\"}",
        ];
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(new ScheduleRecord(
            TestData.NewScheduleId(), license, ScheduleStatus.Success, [SubQueryState.Done],
            TestData.Rows(rows.Length, i => rows[i]), null, null));
        using var client = factory.CreateJwtClient(license);

        using var all = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        using var window = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_start", "1"), ("offset_end", "4")));

        await AssertDataIsExactlyAsync(all, rows);
        await AssertDataIsExactlyAsync(window, rows[1..4]);
    }

    private static async Task AssertDataIsExactlyAsync(HttpResponseMessage response, string[] rows)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The whole body still parses, and ends with the rows' own bytes between '[' and ']'.
        JsonDocument.Parse(body).Dispose();
        var tail = Encoding.UTF8.GetBytes("\"data\":[" + string.Join(",", rows) + "]}");
        Assert.True(body.Length >= tail.Length, Encoding.UTF8.GetString(body));
        Assert.Equal(Encoding.UTF8.GetString(tail), Encoding.UTF8.GetString(body.AsSpan(body.Length - tail.Length)));
        Assert.Equal(tail, body[^tail.Length..]);
    }
}

public sealed class StatusResponseTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : StatusResponseTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
