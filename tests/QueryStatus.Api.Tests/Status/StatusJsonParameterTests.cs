using System.Net;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Status.StatusTestKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>Parameters inside one URL-encoded JSON object in <c>json</c>, alone and next to plain parameters.</summary>
public class StatusJsonParameterTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private async Task<(HttpClient Client, ScheduleRecord Schedule)> SucceededScheduleAsync(int rows = 5)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license, rows));
        return (factory.CreateJwtClient(license), schedule);
    }

    [Fact]
    public async Task AllParametersInsideJsonWithNumbersAsJsonNumbersAreRead()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","offset_start":1,"offset_end":3,"pretty":false}"""));

        Assert.Equal(schedule.ScheduleId, body.Meta().GetProperty("schedule_id").GetString());
        Assert.Equal([DefaultRow(1), DefaultRow(2)], body.RawRows());
        Assert.Equal(1, body.Paging().GetProperty("offset_start").GetInt64());
        Assert.Equal(3, body.Paging().GetProperty("offset_end").GetInt64());
    }

    [Fact]
    public async Task NumbersInsideJsonMayBeNumericStrings()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","offset_start":"1","offset_end":"3"}"""));

        Assert.Equal([DefaultRow(1), DefaultRow(2)], body.RawRows());
        Assert.Equal(3, body.Paging().GetProperty("offset_end").GetInt64());
    }

    [Fact]
    public async Task HandBuiltJsonWithSpacesAndNewlinesIsAccepted()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var json = "{ \"schedule_id\" : \"" + schedule.ScheduleId + "\" ,\n  \"offset_start\" : 2 ,\r\n\t\"offset_end\":  4 }  ";
        var body = await client.GetOkAsync(JsonUrl(json));

        Assert.Equal([DefaultRow(2), DefaultRow(3)], body.RawRows());
    }

    [Fact]
    public async Task EscapedCharactersInsideJsonStringsAreDecoded()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        // Every character of the ID written as a \uXXXX escape: valid JSON for the same string.
        var escaped = string.Concat(schedule.ScheduleId.Select(c => $"\\u{(int)c:x4}"));
        var body = await client.GetOkAsync(JsonUrl($$"""{"schedule_id":"{{escaped}}","offset_end":"\u0032"}"""));

        Assert.Equal(schedule.ScheduleId, body.Meta().GetProperty("schedule_id").GetString());
        Assert.Equal([DefaultRow(0), DefaultRow(1)], body.RawRows());
    }

    [Fact]
    public async Task JsonEncodedLikeEncodeUriIsAccepted()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        // What encodeURI('{"schedule_id":"…", "offset_end": 1}') produces: quotes and spaces escaped, the rest left as is.
        var url = $"{ClientKit.StatusPath}?json={{%22schedule_id%22:%22{schedule.ScheduleId}%22,%20%22offset_end%22:%201}}";
        var body = await client.GetOkAsync(url);

        Assert.Equal([DefaultRow(0)], body.RawRows());
    }

    [Fact]
    public async Task PrettyTrueAsJsonBooleanIndents()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(JsonUrl($$"""{"schedule_id":"{{schedule.ScheduleId}}","pretty":true}"""));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains('\n', text);
    }

    [Fact]
    public async Task ApiKeyInsideJsonAuthenticates()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","api_key":"{{TestKeys.Primary.Key}}"}"""));

        Assert.Equal("SUCCESS", body.Meta().GetProperty("status_code").GetString());
    }

    [Fact]
    public async Task MalformedApiKeyInsideJsonReturnsBadRequest()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();

        using var response = await client.GetAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","api_key":"not a key!"}"""));

        await response.AssertBadRequestNamingAsync("api_key");
    }

    [Fact]
    public async Task UnknownFieldsInsideJsonAreIgnored()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"client":"dashboard","schedule_id":"{{schedule.ScheduleId}}","extra":{"nested":[1,{"x":null}]},"offset_end":1}"""));

        Assert.Equal([DefaultRow(0)], body.RawRows());
    }

    [Fact]
    public async Task NullInsideJsonCountsAsAbsent()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","offset_start":null,"offset_end":null,"pretty":null}"""));

        Assert.Equal(0, body.Paging().GetProperty("offset_start").GetInt64());
        Assert.Equal(5, body.Paging().GetProperty("offset_end").GetInt64());
    }

    [Fact]
    public async Task ParametersMayBeSplitBetweenJsonAndPlainParameters()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","offset_end":4}""", ("offset_start", "3")));

        Assert.Equal([DefaultRow(3)], body.RawRows());
    }

    [Theory]
    [InlineData("offset_start", "1", "2")]
    [InlineData("offset_start", "1", "\"2\"")]
    [InlineData("offset_end", "2", "3")]
    [InlineData("pretty", "true", "false")]
    [InlineData("pretty", "false", "\"true\"")]
    [InlineData("offset_start", "+1", "1")] // "+1" alone is refused: it is no more the same value beside json
    [InlineData("offset_start", " 1", "1")]
    [InlineData("offset_start", "01", "1")] // the same text or not the same value: no second reading of numbers
    public async Task SameParameterInJsonAndPlainWithDifferentValuesReturnsBadRequest(string name, string plain, string jsonValue)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","{{name}}":{{jsonValue}}}""", (name, plain)));

        await response.AssertBadRequestNamingAsync(name);
    }

    [Fact]
    public async Task ScheduleIdsThatReadAsEqualNumbersAreStillDifferentValues()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.GetAsync(JsonUrl("""{"schedule_id":"123"}""", ("schedule_id", "0123")));

        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Fact]
    public async Task ScheduleIdInJsonAndPlainWithDifferentValuesReturnsBadRequest()
    {
        var license = TestData.NewLicenseId();
        var first = await factory.PutAsync(TestData.Success(license));
        var second = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateJwtClient(license);

        using var response = await client.GetAsync(JsonUrl(
            $$"""{"schedule_id":"{{first.ScheduleId}}"}""", ("schedule_id", second.ScheduleId)));

        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Theory]
    [InlineData("offset_start", "1", "1")]
    [InlineData("offset_start", "1", "\"1\"")]
    [InlineData("offset_end", "2", "2")]
    [InlineData("pretty", "false", "false")]
    [InlineData("pretty", "false", "\"false\"")]
    public async Task SameParameterInJsonAndPlainWithTheSameValueIsAccepted(string name, string plain, string jsonValue)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","{{name}}":{{jsonValue}}}""", (name, plain)));

        Assert.Equal(schedule.ScheduleId, body.Meta().GetProperty("schedule_id").GetString());
        if (name != "pretty")
        {
            Assert.Equal(long.Parse(plain), body.Paging().GetProperty(name).GetInt64());
        }
    }

    [Fact]
    public async Task ScheduleIdInJsonAndPlainWithTheSameValueIsAccepted()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        var body = await client.GetOkAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}"}""", ("schedule_id", schedule.ScheduleId)));

        Assert.Equal(5, body.GetProperty("data").GetArrayLength());
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{\"schedule_id\":}")]
    [InlineData("{\"schedule_id\":\"abc\",}")]
    [InlineData("{'schedule_id':'abc'}")]
    [InlineData("{schedule_id:\"abc\"}")]
    [InlineData("{\"schedule_id\":\"abc\"} trailing")]
    [InlineData("not json")]
    [InlineData("")]
    [InlineData(" ")]
    public async Task MalformedJsonReturnsBadRequestNamingJson(string json)
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(JsonUrl(json));
        var description = await response.AssertBadRequestNamingAsync("json");
        Assert.StartsWith("json", description);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"schedule_id\":\"abc\"}]")]
    [InlineData("\"abc\"")]
    [InlineData("\"{\\\"schedule_id\\\":\\\"abc\\\"}\"")]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("null")]
    public async Task JsonThatIsNotAnObjectReturnsBadRequestNamingJson(string json)
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(JsonUrl(json));
        var description = await response.AssertBadRequestNamingAsync("json");
        Assert.StartsWith("json", description);
        Assert.Contains("object", description);
    }

    [Theory]
    [InlineData("offset_start", "1.5")]
    [InlineData("offset_start", "-1")]
    [InlineData("offset_start", "1000001")]
    [InlineData("offset_start", "\"abc\"")]
    [InlineData("offset_start", "\"1.5\"")]
    [InlineData("offset_start", "{}")]
    [InlineData("offset_end", "1e3")]
    [InlineData("offset_end", "1000001")]
    [InlineData("offset_end", "[1]")]
    [InlineData("offset_end", "2.0")]
    [InlineData("pretty", "\"maybe\"")]
    [InlineData("pretty", "1")]
    public async Task InvalidValueInsideJsonReturnsBadRequestNamingTheParameter(string name, string jsonValue)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","{{name}}":{{jsonValue}}}"""));

        await response.AssertBadRequestNamingAsync(name);
    }

    [Fact]
    public async Task OffsetEndBeforeStartInsideJsonReturnsBadRequest()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","offset_start":4,"offset_end":3}"""));

        await response.AssertBadRequestNamingAsync("offset_end");
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("this_schedule_id_is_fifty_one_characters_long_abcde")]
    public async Task ScheduleIdInsideJsonFollowsTheSameRule(string scheduleId)
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(JsonUrl($$"""{"schedule_id":"{{scheduleId}}"}"""));
        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Fact]
    public async Task EmptyJsonObjectReturnsBadRequestNamingScheduleId()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var response = await client.GetAsync(JsonUrl("{}"));
        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Fact]
    public async Task JsonGivenTwiceReturnsBadRequest()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;
        var json = $$"""{"schedule_id":"{{schedule.ScheduleId}}"}""";

        using var response = await client.GetAsync(Url(("json", json), ("json", json)));

        await response.AssertBadRequestNamingAsync("json");
    }

    [Fact]
    public async Task ParameterGivenTwiceInsideJsonReturnsBadRequest()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","offset_start":1,"offset_start":1}"""));

        await response.AssertBadRequestNamingAsync("offset_start");
    }

    [Theory]
    [InlineData("offset_start", "1")]
    [InlineData("offset_end", "2")]
    [InlineData("pretty", "true")]
    [InlineData("api_key", "qs_test_primary_key_0001")]
    public async Task ParameterGivenTwiceAsPlainParameterReturnsBadRequest(string name, string value)
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), (name, value), (name, value)));

        await response.AssertBadRequestNamingAsync(name);
    }

    [Fact]
    public async Task ScheduleIdGivenTwiceAsPlainParameterReturnsBadRequest()
    {
        var (client, schedule) = await SucceededScheduleAsync();
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", schedule.ScheduleId), ("schedule_id", schedule.ScheduleId)));

        await response.AssertBadRequestNamingAsync("schedule_id");
    }

    [Fact]
    public async Task ApiKeyGivenTwiceWithoutOtherCredentialReturnsBadRequest()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();

        using var response = await client.GetAsync(
            Url(("schedule_id", schedule.ScheduleId), ("api_key", TestKeys.Primary.Key), ("api_key", TestKeys.Primary.Key)));

        await response.AssertBadRequestNamingAsync("api_key");
    }
}

public sealed class StatusJsonParameterTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : StatusJsonParameterTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
