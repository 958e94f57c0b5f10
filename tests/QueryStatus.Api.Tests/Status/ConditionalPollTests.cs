using System.Net;
using System.Net.Http.Headers;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>
/// ETag and <c>If-None-Match</c> on the status endpoint: every 200 carries a weak ETag of the query's own state; the
/// current one answers 304 with no body and the usual headers; the license-wide workflow counters are not part of it.
/// </summary>
public class ConditionalPollTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private async Task<(HttpClient Client, string ScheduleId)> SucceededQueryAsync()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        return (factory.CreateJwtClient(license), schedule.ScheduleId);
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string scheduleId, string? ifNoneMatch, string? extra = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, HttpAssertions.StatusUrl(scheduleId, extra));
        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }
        request.Headers.Add("Origin", "https://app.example");
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task EveryOkAnswerCarriesAWeakETag()
    {
        var (client, scheduleId) = await SucceededQueryAsync();

        using var response = await GetAsync(client, scheduleId, null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(response.Headers.ETag);
        Assert.True(response.Headers.ETag!.IsWeak);
        Assert.Matches("^W/\"[0-9a-f]{32}\"$", response.Headers.ETag.ToString());
    }

    [Fact]
    public async Task TheCurrentETagAnswersNotModifiedWithoutABodyAndWithTheUsualHeaders()
    {
        var (client, scheduleId) = await SucceededQueryAsync();
        using var first = await GetAsync(client, scheduleId, null);
        var etag = first.Headers.ETag!.ToString();

        using var again = await GetAsync(client, scheduleId, etag);

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Empty(await again.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, again.Headers.ETag?.ToString());
        again.AssertRequestId();
        again.AssertRateLimitHeaders();
        again.AssertAllowsAnyOrigin();
    }

    [Fact]
    public async Task ANotModifiedAnswerCountsAgainstTheRateLimit()
    {
        var (client, scheduleId) = await SucceededQueryAsync();
        using var first = await GetAsync(client, scheduleId, null);

        using var again = await GetAsync(client, scheduleId, first.Headers.ETag!.ToString());

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Equal(first.AssertRateLimitHeaders().Remaining - 1, again.AssertRateLimitHeaders().Remaining);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("W/\"00000000000000000000000000000000\", {0}")]
    [InlineData("{0}")]
    public async Task IfNoneMatchMatchesAnyTagOfItsListOrTheWildcard(string header)
    {
        var (client, scheduleId) = await SucceededQueryAsync();
        using var first = await GetAsync(client, scheduleId, null);

        using var again = await GetAsync(client, scheduleId, string.Format(header, first.Headers.ETag!.ToString()));

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
    }

    [Theory]
    [InlineData("W/\"00000000000000000000000000000000\"")]
    [InlineData("not an etag")]
    public async Task AnotherOrUnreadableETagGetsTheFullAnswer(string header)
    {
        var (client, scheduleId) = await SucceededQueryAsync();

        using var response = await GetAsync(client, scheduleId, header);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEmpty((await response.ReadJsonAsync()).RawRows());
    }

    [Fact]
    public async Task ADifferentPageOfTheSameResultHasADifferentETag()
    {
        var (client, scheduleId) = await SucceededQueryAsync();

        using var first = await GetAsync(client, scheduleId, null, "offset_end=1");
        using var second = await GetAsync(client, scheduleId, null, "offset_start=1&offset_end=2");

        Assert.NotEqual(first.Headers.ETag, second.Headers.ETag);
    }

    [Fact]
    public async Task TheETagFollowsProgressButNotTheLicensesWorkflowCounters()
    {
        var license = TestData.NewLicenseId();
        using var client = factory.CreateJwtClient(license);
        using var worker = factory.CreateWorker();
        var watched = await client.SubmitAsync(Sub("w0"), Sub("w1"));
        using var before = await GetAsync(client, watched, null);

        // Another query of the license gets queued: the watched one's workflow counters move, its ETag does not.
        await client.SubmitAsync(Sub("other"));
        using var afterOther = await GetAsync(client, watched, before.Headers.ETag!.ToString());
        Assert.Equal(HttpStatusCode.NotModified, afterOther.StatusCode);

        // One of its own sub-queries finishes: its progress moves, and so does its ETag.
        var task = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(task, [Row("r")]);
        using var afterOwn = await GetAsync(client, watched, before.Headers.ETag!.ToString());
        var own = await GetAsync(client, watched, null);
        Assert.Equal(HttpStatusCode.OK, afterOwn.StatusCode);
        Assert.NotEqual(before.Headers.ETag, afterOwn.Headers.ETag);
        Assert.Equal(own.Headers.ETag, afterOwn.Headers.ETag);
    }

    [Fact]
    public async Task ETagAndIfNoneMatchAreExposedAndAllowedThroughCors()
    {
        using var client = factory.CreateAnonymousClient();
        using var preflight = new HttpRequestMessage(HttpMethod.Options, StatusApiPath);
        preflight.Headers.Add("Origin", "https://app.example");
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        preflight.Headers.Add("Access-Control-Request-Headers", "if-none-match");
        using var answer = await client.SendAsync(preflight);
        Assert.Contains("if-none-match", answer.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);

        var (jwtClient, scheduleId) = await SucceededQueryAsync();
        using var response = await GetAsync(jwtClient, scheduleId, null);
        Assert.Contains("ETag", response.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.OrdinalIgnoreCase);
    }

    private const string StatusApiPath = "/enterprise/v2/query/status";
}

public sealed class ConditionalPollTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : ConditionalPollTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
