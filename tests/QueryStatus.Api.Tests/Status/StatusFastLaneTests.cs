using System.Diagnostics.Metrics;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using QueryStatus.Api.Status;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.RateLimiting;

namespace QueryStatus.Api.Tests.Status;

/// <summary>
/// The fast lane answers valid polls without the full pipeline: what it answers must be what the pipeline
/// answers, what it does not answer must reach the pipeline untouched, and permits must be counted once.
/// A poll with its parameters in <c>json</c> always takes the pipeline, so it is the reference answer.
/// </summary>
public sealed partial class StatusFastLaneTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private MetricCollector<long> AnsweredCounter(QueryStatusFactory host) =>
        new(host.Services.GetRequiredService<IMeterFactory>(), StatusFastLane.MeterName, StatusFastLane.AnsweredCounterName);

    private static long Answered(MetricCollector<long> counter) => counter.GetMeasurementSnapshot().Sum(m => m.Value);

    [GeneratedRegex("\"request_id\": ?\"[A-Za-z0-9_-]{32}\"")]
    private static partial Regex RequestIdField();

    private static string WithoutRequestId(string body) => RequestIdField().Replace(body, "\"request_id\":\"-\"");

    [Theory]
    [InlineData(ScheduleStatus.Running, "")]
    [InlineData(ScheduleStatus.Success, "")]
    [InlineData(ScheduleStatus.Success, "&offset_start=1&offset_end=2")]
    [InlineData(ScheduleStatus.Success, "&pretty=true")]
    [InlineData(ScheduleStatus.Failure, "")]
    public async Task ValidPollIsAnsweredByTheFastLaneWithThePipelinesBytesAndHeaders(ScheduleStatus state, string extra)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(StatusTestKit.InState(license, state, rows: 5));
        using var client = factory.CreateClientWithJwt(license);
        await WarmTokenAsync(client, schedule.ScheduleId);
        using var counter = AnsweredCounter(factory);

        var fast = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId, extra.Length == 0 ? null : extra[1..]));
        Assert.Equal(1, Answered(counter));
        var json = PlainToJson(schedule.ScheduleId, extra);
        var reference = await client.GetAsync(StatusTestKit.JsonUrl(json));
        Assert.Equal(1, Answered(counter));

        Assert.Equal(HttpStatusCode.OK, fast.StatusCode);
        Assert.Equal(reference.StatusCode, fast.StatusCode);
        Assert.Equal(WithoutRequestId(await reference.Content.ReadAsStringAsync()), WithoutRequestId(await fast.Content.ReadAsStringAsync()));
        Assert.Equal(HeaderNames(reference), HeaderNames(fast));
        foreach (var same in new[] { "Content-Type", "Content-Length", "Access-Control-Allow-Origin", "X-RateLimit-Limit" })
        {
            Assert.Equal(HeaderValue(reference, same), HeaderValue(fast, same));
        }
        // One permit each: the reference poll came right after and found one fewer left.
        Assert.Equal(long.Parse(HeaderValue(fast, "X-RateLimit-Remaining")!) - 1, long.Parse(HeaderValue(reference, "X-RateLimit-Remaining")!));
        Assert.Equal(fast.Headers.GetValues("X-Request-Id").Single(), (await fast.ReadJsonAsync()).GetProperty("meta").GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task PollWithAnApiKeyParameterIsAnsweredByTheFastLane()
    {
        var schedule = await factory.PutAsync(TestData.Running(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();
        using var counter = AnsweredCounter(factory);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId, $"api_key={TestKeys.Primary.Key}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, Answered(counter));
    }

    [Fact]
    public async Task PollWithAnApiKeyHeaderIsAnsweredByTheFastLane()
    {
        var schedule = await factory.PutAsync(TestData.Running(TestKeys.Primary.LicenseId));
        using var client = factory.CreateClientWithApiKey(TestKeys.ReadOnly);
        using var counter = AnsweredCounter(factory);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, Answered(counter));
    }

    [Fact]
    public async Task PollWithNamesInAnyCaseAndRepeatedUnknownParametersIsAnsweredByTheFastLane()
    {
        var schedule = await factory.PutAsync(TestData.Running(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();
        using var counter = AnsweredCounter(factory);

        var response = await client.GetAsync(
            $"/enterprise/v2/query/status?Schedule_ID={schedule.ScheduleId}&API_KEY={TestKeys.Primary.Key}&Offset_Start=0&utm=1&utm=2");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(schedule.ScheduleId, (await response.ReadJsonAsync()).GetProperty("meta").GetProperty("schedule_id").GetString());
        Assert.Equal(1, Answered(counter));
    }

    public static readonly TheoryData<string, string, HttpStatusCode> PassedOn = new()
    {
        { "disabled key", $"api_key={TestKeys.Disabled.Key}", HttpStatusCode.Forbidden },
        { "worker key (no query:read, no license)", $"api_key={TestKeys.Worker.Key}", HttpStatusCode.Forbidden },
        { "unknown key", "api_key=qs_not_a_configured_key", HttpStatusCode.Unauthorized },
        { "malformed key", "api_key=not%20a%20key", HttpStatusCode.BadRequest },
        { "no credential", "", HttpStatusCode.Unauthorized },
        { "offset not a number", $"api_key={TestKeys.Primary.Key}&offset_start=x", HttpStatusCode.BadRequest },
        { "window over the cap", $"api_key={TestKeys.Primary.Key}&offset_start=0&offset_end=999999", HttpStatusCode.BadRequest },
        { "pretty not a boolean", $"api_key={TestKeys.Primary.Key}&pretty=yes", HttpStatusCode.BadRequest },
        { "parameter given twice", $"api_key={TestKeys.Primary.Key}&offset_start=0&offset_start=0", HttpStatusCode.BadRequest },
        { "api_key given twice", $"api_key={TestKeys.Primary.Key}&api_key={TestKeys.Primary.Key}", HttpStatusCode.BadRequest },
        { "schedule_id given twice, once in capitals", $"api_key={TestKeys.Primary.Key}&SCHEDULE_ID=other", HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(PassedOn))]
    public async Task RequestTheFastLaneCannotAnswerGetsThePipelinesAnswer(string why, string query, HttpStatusCode expected)
    {
        var schedule = await factory.PutAsync(TestData.Running(TestKeys.Primary.LicenseId));
        using var client = factory.CreateAnonymousClient();
        using var counter = AnsweredCounter(factory);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId, query.Length == 0 ? null : query));

        Assert.True(expected == response.StatusCode, $"{why}: {(int)response.StatusCode}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, Answered(counter));
    }

    [Fact]
    public async Task UnknownScheduleIsAnsweredWithThePipelines404()
    {
        using var client = factory.CreateClientWithApiKey(TestKeys.ReadOnly);
        var scheduleId = TestData.NewScheduleId();
        using var counter = AnsweredCounter(factory);

        var fast = await client.GetAsync(HttpAssertions.StatusUrl(scheduleId));
        Assert.Equal(1, Answered(counter));
        var reference = await client.GetAsync(StatusTestKit.JsonUrl($"{{\"schedule_id\":\"{scheduleId}\"}}"));
        Assert.Equal(1, Answered(counter));

        await fast.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        Assert.Equal(WithoutRequestId(await reference.Content.ReadAsStringAsync()), WithoutRequestId(await fast.Content.ReadAsStringAsync()));
        Assert.Equal(HeaderNames(reference), HeaderNames(fast));
    }

    [Fact]
    public async Task NewJwtIsValidatedByThePipelineOnceThenPollsTakeTheFastLane()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Running(license));
        using var client = factory.CreateClientWithJwt(license);
        using var counter = AnsweredCounter(factory);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId))).StatusCode);
        Assert.Equal(0, Answered(counter));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId))).StatusCode);
        Assert.Equal(1, Answered(counter));
    }

    [Fact]
    public async Task ExpiredJwtIsPassedOnAndAnswers401()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Running(license));
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer",
            TestJwt.Create(license, now: factory.Time.GetUtcNow() - TimeSpan.FromHours(2), lifetime: TimeSpan.FromHours(1)));
        using var counter = AnsweredCounter(factory);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(0, Answered(counter));
    }

    [Fact]
    public async Task JwtWithoutQueryReadIsPassedOnAndAnswers403()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Running(license));
        using var client = factory.CreateClientWithJwt(license, scope: "query:write");
        using var counter = AnsweredCounter(factory);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Contains("query:read", description);
        Assert.Equal(0, Answered(counter));
    }

    [Fact]
    public async Task CorsRequestIsPassedOnAndGetsTheCorsHeaders()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Running(license));
        using var client = factory.CreateClientWithJwt(license);
        using var counter = AnsweredCounter(factory);
        using var request = new HttpRequestMessage(HttpMethod.Get, HttpAssertions.StatusUrl(schedule.ScheduleId));
        request.Headers.Add("Origin", "https://app.example");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("X-Request-Id", HeaderValue(response, "Access-Control-Expose-Headers"));
        Assert.Equal(0, Answered(counter));
    }

    [Fact]
    public async Task EachPollCostsOnePermitWhicheverWayItIsAnsweredAndTheLimitStillHolds()
    {
        using var limited = new RateLimitedFactory();
        var license = TestData.NewLicenseId();
        var schedule = await limited.PutAsync(TestData.Running(license));
        using var client = limited.CreateClientWithJwt(license);
        using var counter = AnsweredCounter(limited);

        var first = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        var missing = await client.GetAsync(HttpAssertions.StatusUrl(TestData.NewScheduleId()));
        var third = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        var rejected = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            new[] { first.StatusCode, missing.StatusCode, third.StatusCode, rejected.StatusCode });
        Assert.Equal(["2", "1", "0", "0"], new[] { first, missing, third, rejected }.Select(r => HeaderValue(r, "X-RateLimit-Remaining")));
        Assert.NotNull(rejected.Headers.RetryAfter);
        await rejected.AssertEnvelopeAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        // The first poll validated the new token in the pipeline; the 404 and the third came through the lane.
        Assert.Equal(2, Answered(counter));
    }

    [Fact]
    public async Task RequestLogLineOfAFastLanePollNamesItsLicense()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Running(license));
        using var client = factory.CreateClientWithJwt(license);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        var requestId = response.AssertRequestId();

        Assert.Contains(factory.Logs.Events, e =>
            e.MessageTemplate.Text == QueryStatus.Api.Observability.RequestIdMiddleware.MessageTemplateText
            && e.Properties["RequestId"].ToString() == $"\"{requestId}\""
            && e.Properties["LicenseId"].ToString() == $"\"{license}\""
            && e.Properties["StatusCode"].ToString() == "200");
    }

    /// <summary>A new token is validated by the pipeline; once it passed, polls with it can take the lane.</summary>
    private static async Task WarmTokenAsync(HttpClient client, string scheduleId) =>
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(StatusTestKit.JsonUrl($"{{\"schedule_id\":\"{scheduleId}\"}}"))).StatusCode);

    private static string PlainToJson(string scheduleId, string extra)
    {
        var fields = new List<string> { $"\"schedule_id\":\"{scheduleId}\"" };
        foreach (var pair in extra.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (name, value) = (pair.Split('=')[0], pair.Split('=')[1]);
            fields.Add(long.TryParse(value, out _) ? $"\"{name}\":{value}" : $"\"{name}\":\"{value}\"");
        }
        return "{" + string.Join(",", fields) + "}";
    }

    private static string[] HeaderNames(HttpResponseMessage response) =>
        [.. response.Headers.Concat(response.Content.Headers).Select(h => h.Key).Where(n => n != "Date").Order(StringComparer.OrdinalIgnoreCase)];

    private static string? HeaderValue(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;
}
