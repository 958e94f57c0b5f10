using System.Net;
using System.Text.Json.Nodes;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Status.StatusTestKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>Each rule of the plain query parameters, at its edges.</summary>
public class StatusParameterRuleTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    // A 50-character ID that uses every kind of allowed character: upper, lower, digit, '_' and '-'.
    private static string FiftyCharacterScheduleId() => TestData.NewScheduleId("Edge_50-AZaz09xyz");

    private async Task<(HttpClient Client, ScheduleRecord Schedule)> SucceededScheduleAsync(int rows = 3)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license, rows));
        return (factory.CreateJwtClient(license), schedule);
    }

    // --- schedule_id ---

    [Fact]
    public async Task MissingScheduleIdReturnsBadRequest()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(Url(("offset_start", "0")));
        var description = await response.AssertBadRequestNamingAsync("schedule_id");
        Assert.Contains("required", description);
    }

    [Fact]
    public async Task RequestWithoutAnyParameterReturnsBadRequestNamingScheduleId()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(Url());
        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Fact]
    public async Task EmptyScheduleIdReturnsBadRequest()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(Url(("schedule_id", "")));
        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Fact]
    public async Task ScheduleIdOfOneCharacterIsAccepted()
    {
        var license = TestData.NewLicenseId();
        await factory.PutAsync(TestData.Success(license, scheduleId: "Z"));
        using var client = factory.CreateJwtClient(license);

        var body = await client.GetOkAsync(Url(("schedule_id", "Z")));

        Assert.Equal("Z", body.Meta().GetProperty("schedule_id").GetString());
    }

    [Fact]
    public async Task ScheduleIdOfFiftyCharactersIsAccepted()
    {
        var license = TestData.NewLicenseId();
        var id = FiftyCharacterScheduleId();
        Assert.Equal(50, id.Length);
        await factory.PutAsync(TestData.Success(license, scheduleId: id));
        using var client = factory.CreateJwtClient(license);

        var body = await client.GetOkAsync(Url(("schedule_id", id)));

        Assert.Equal(id, body.Meta().GetProperty("schedule_id").GetString());
    }

    [Fact]
    public async Task ScheduleIdOfFiftyOneCharactersReturnsBadRequest()
    {
        var license = TestData.NewLicenseId();
        var fifty = FiftyCharacterScheduleId();
        await factory.PutAsync(TestData.Success(license, scheduleId: fifty));
        using var client = factory.CreateJwtClient(license);

        using var response = await client.GetAsync(Url(("schedule_id", fifty + "a")));

        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Theory]
    [InlineData("abc.def")]
    [InlineData("abc def")]
    [InlineData("abc+def")]
    [InlineData("abc/def")]
    [InlineData("abc%def")]
    [InlineData("abc!")]
    [InlineData("abc~")]
    [InlineData("abc\tdef")]
    [InlineData("caf\u00e9")]
    [InlineData("\u0430bc")] // Cyrillic a
    [InlineData(" abc")]
    [InlineData("abc ")]
    [InlineData("abc\n")] // a regex's "$" alone would let a final newline through
    public async Task ScheduleIdWithCharacterOutsideTheAlphabetReturnsBadRequest(string scheduleId)
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(Url(("schedule_id", scheduleId)));
        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    // --- offset_start / offset_end ---

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1", 1)]
    [InlineData("3", 3)]
    [InlineData("999999", 999_999)]
    [InlineData("1000000", 1_000_000)]
    public async Task OffsetStartWithinRangeIsAccepted(string offsetStart, long expected)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_start", offsetStart)));

        Assert.Equal(expected, body.Paging().GetProperty("offset_start").GetInt64());
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1000001")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("1.0")]
    [InlineData("")]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("+5")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData("-")]
    [InlineData("99999999999999999999999")]
    public async Task OffsetStartOutOfRangeOrNotAnIntegerReturnsBadRequest(string offsetStart)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_start", offsetStart)));

        await response.AssertBadRequestNamingAsync("offset_start");
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("0", "3")]
    [InlineData("2", "1000")]
    [InlineData("995000", "1000000")]
    [InlineData("1000000", "1000000")]
    public async Task OffsetEndWithinRangeIsAccepted(string offsetStart, string offsetEnd)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(
            Url(("schedule_id", schedule.ScheduleId), ("offset_start", offsetStart), ("offset_end", offsetEnd)));

        // The end actually served: max(offset_start, min(offset_end, total_rows)).
        var (start, end) = (long.Parse(offsetStart), long.Parse(offsetEnd));
        var paging = body.Paging();
        Assert.Equal(start, paging.GetProperty("offset_start").GetInt64());
        Assert.Equal(Math.Max(start, Math.Min(end, 3)), paging.GetProperty("offset_end").GetInt64());
        Assert.Equal(3, paging.GetProperty("total_rows").GetInt64());
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1000001")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("2.0")]
    [InlineData("")]
    [InlineData(" 2")]
    [InlineData("+2")]
    [InlineData("2e0")]
    [InlineData("99999999999999999999999")]
    public async Task OffsetEndOutOfRangeOrNotAnIntegerReturnsBadRequest(string offsetEnd)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_end", offsetEnd)));

        await response.AssertBadRequestNamingAsync("offset_end");
    }

    [Fact]
    public async Task OffsetEndBeforeStartReturnsBadRequest()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(
            Url(("schedule_id", schedule.ScheduleId), ("offset_start", "10"), ("offset_end", "9")));

        var description = await response.AssertBadRequestNamingAsync("offset_end");
        Assert.Contains("offset_start", description);
    }

    [Fact]
    public async Task OffsetEndEqualToStartIsAnEmptyWindow()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_start", "1"), ("offset_end", "1")));

        Assert.Empty(body.RawRows());
        Assert.Equal(1, body.Paging().GetProperty("offset_start").GetInt64());
        Assert.Equal(1, body.Paging().GetProperty("offset_end").GetInt64());
    }

    [Fact]
    public async Task OffsetEndIsExclusive()
    {
        var (client, schedule) = await SucceededScheduleAsync(rows: 5);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_start", "1"), ("offset_end", "2")));

        Assert.Equal([DefaultRow(1)], body.RawRows());
        Assert.Equal(2, body.Paging().GetProperty("offset_end").GetInt64());
    }

    [Fact]
    public async Task OffsetEndAloneCountsFromRowZero()
    {
        var (client, schedule) = await SucceededScheduleAsync(rows: 5);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId), ("offset_end", "2")));

        Assert.Equal([DefaultRow(0), DefaultRow(1)], body.RawRows());
    }

    [Theory]
    [InlineData("0", "10000")]
    [InlineData("5", "10005")]
    [InlineData("990000", "1000000")]
    public async Task WindowOfExactlyThePageCapIsAccepted(string offsetStart, string offsetEnd)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(
            Url(("schedule_id", schedule.ScheduleId), ("offset_start", offsetStart), ("offset_end", offsetEnd)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("0", "10001")]
    [InlineData("5", "10006")]
    [InlineData("989999", "1000000")]
    [InlineData("0", "1000000")]
    public async Task WindowWiderThanThePageCapReturnsBadRequest(string offsetStart, string offsetEnd)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(
            Url(("schedule_id", schedule.ScheduleId), ("offset_start", offsetStart), ("offset_end", offsetEnd)));

        var description = await response.AssertBadRequestNamingAsync("offset_end");
        Assert.Contains("10000", description);
    }

    // --- api_key ---

    [Fact]
    public async Task ApiKeyAsQueryParameterAuthenticates()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();

        var body = await client.GetOkAsync(Url(("schedule_id", schedule.ScheduleId), ("api_key", TestKeys.Primary.Key)));

        Assert.Equal(schedule.ScheduleId, body.Meta().GetProperty("schedule_id").GetString());
    }

    public static readonly TheoryData<string> MalformedApiKeys = new(
        "",
        "has space",
        "dots.are.not.allowed",
        "slash/key",
        "key!",
        "kl\u00fcssel",
        new string('k', 256));

    [Theory]
    [MemberData(nameof(MalformedApiKeys))]
    public async Task MalformedApiKeyReturnsBadRequest(string apiKey)
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("api_key", apiKey)));

        await response.AssertBadRequestNamingAsync("api_key");
    }

    [Theory]
    [MemberData(nameof(MalformedApiKeys))]
    public async Task MalformedApiKeyNextToAValidJwtReturnsBadRequest(string apiKey)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("api_key", apiKey)));

        await response.AssertBadRequestNamingAsync("api_key");
    }

    [Fact]
    public async Task WellFormedApiKeyOf255CharactersIsCheckedNotRejectedAsMalformed()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();

        using var response = await client.GetAsync(
            Url(("schedule_id", schedule.ScheduleId), ("api_key", "A-z_0" + new string('k', 250))));

        // Well formed, so it gets as far as the key lookup: unknown key, not a malformed request.
        await response.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    // --- pretty ---

    [Fact]
    public async Task PrettyTrueGivesIndentedJsonThatParsesTheSame()
    {
        var license = TestData.NewLicenseId();
        var rows = TestData.Rows(4, i => i switch
        {
            0 => """{ "spaced" :  1 , "text" : "caf\u00e9" }""",
            1 => "{\"unicode\":\"caf\u00e9 \u65e5\u672c \U0001F600\"}",
            2 => """[1, 2.50, -0.0, 1E+2, null, true]""",
            _ => "\"just a string\"",
        });
        var schedule = await factory.PutAsync(new ScheduleRecord(
            TestData.NewScheduleId(), license, ScheduleStatus.Success, [SubQueryState.Done], rows, null, null));
        using var client = factory.CreateJwtClient(license);

        using var compact = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        using var pretty = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("pretty", "true")));
        var compactText = await compact.Content.ReadAsStringAsync();
        var prettyText = await pretty.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, compact.StatusCode);
        Assert.Equal(HttpStatusCode.OK, pretty.StatusCode);
        Assert.DoesNotContain('\n', compactText);
        Assert.Contains('\n', prettyText);
        Assert.Contains("\n  \"meta\": {", prettyText);
        Assert.True(
            JsonNode.DeepEquals(WithoutRequestId(compactText), WithoutRequestId(prettyText)),
            $"Pretty and compact bodies differ:\n{compactText}\n{prettyText}");
    }

    [Fact]
    public async Task PrettyFullPageParsesTheSameAsCompact()
    {
        // A full default page is far larger than one write buffer, so the pretty writer flushes midway.
        var (client, schedule) = await SucceededScheduleAsync(rows: 12_000);
        using var _ = client;

        using var compact = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        using var pretty = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("pretty", "true")));
        var compactText = await compact.Content.ReadAsStringAsync();
        var prettyText = await pretty.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, pretty.StatusCode);
        Assert.Contains('\n', prettyText);
        Assert.Equal(10_000, JsonNode.Parse(prettyText)!["data"]!.AsArray().Count);
        Assert.True(JsonNode.DeepEquals(WithoutRequestId(compactText), WithoutRequestId(prettyText)));
    }

    [Fact]
    public async Task PrettyFalseGivesCompactJson()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("pretty", "false")));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain('\n', text);
        Assert.StartsWith("{\"meta\":{", text);
    }

    [Theory]
    [InlineData("maybe")]
    [InlineData("yes")]
    [InlineData("1")]
    [InlineData("")]
    public async Task PrettyOtherThanTrueOrFalseReturnsBadRequest(string pretty)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("pretty", pretty)));

        await response.AssertBadRequestNamingAsync("pretty");
    }

    private static JsonNode WithoutRequestId(string body)
    {
        var node = JsonNode.Parse(body)!;
        Assert.True(node["meta"]!.AsObject().Remove("request_id"));
        return node;
    }
}

public sealed class StatusParameterRuleTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : StatusParameterRuleTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
