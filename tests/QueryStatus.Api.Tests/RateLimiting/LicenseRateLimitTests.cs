using System.Globalization;
using System.Net;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.RateLimiting;

public sealed class LicenseRateLimitTests(RateLimitedFactory factory) : IClassFixture<RateLimitedFactory>
{
    /// <summary>A client with a JWT for a fresh license (so a bucket of its own) and the URL of one of its schedules.</summary>
    private sealed record Caller(HttpClient Client, string Url) : IDisposable
    {
        public Task<HttpResponseMessage> GetAsync() => Client.GetAsync(Url);

        public void Dispose() => Client.Dispose();
    }

    private async Task<Caller> FreshLicenseAsync()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        return new Caller(factory.CreateClientWithJwt(license), HttpAssertions.StatusUrl(schedule.ScheduleId));
    }

    private static async Task ExhaustAsync(Caller caller)
    {
        for (var i = 0; i < RateLimitedFactory.PermitLimit; i++)
        {
            var response = await caller.GetAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task FirstThreeRequestsPassCountingDownRemaining()
    {
        using var caller = await FreshLicenseAsync();

        var seen = new List<(long Limit, long Remaining)>();
        for (var i = 0; i < 3; i++)
        {
            var response = await caller.GetAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen.Add(response.AssertRateLimitHeaders());
        }

        Assert.Equal([(3L, 2L), (3L, 1L), (3L, 0L)], seen);
    }

    [Fact]
    public async Task FourthRequestAnswersTooManyRequestsEnvelopeWithRetryAfterAndRateLimitHeaders()
    {
        using var caller = await FreshLicenseAsync();
        await ExhaustAsync(caller);

        var response = await caller.GetAsync();

        await response.AssertEnvelopeAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        var retryAfter = response.Single("Retry-After");
        Assert.Matches("^[1-9][0-9]*$", retryAfter);
        Assert.InRange(long.Parse(retryAfter, CultureInfo.InvariantCulture), 1, 3600);
        Assert.Equal((3L, 0L), response.AssertRateLimitHeaders());
        response.AssertRequestId();
        response.AssertAllowsAnyOrigin();
    }

    [Fact]
    public async Task RejectedRequestsKeepBeingRejectedWithinTheWindow()
    {
        using var caller = await FreshLicenseAsync();
        await ExhaustAsync(caller);

        for (var i = 0; i < 3; i++)
        {
            var response = await caller.GetAsync();
            await response.AssertEnvelopeAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        }
    }

    [Fact]
    public async Task ExhaustedLicenseDoesNotAffectAnotherLicense()
    {
        using var first = await FreshLicenseAsync();
        using var second = await FreshLicenseAsync();
        await ExhaustAsync(first);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await first.GetAsync()).StatusCode);

        var response = await second.GetAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((3L, 2L), response.AssertRateLimitHeaders());
        Assert.Equal(HttpStatusCode.TooManyRequests, (await first.GetAsync()).StatusCode);
    }

    [Fact]
    public async Task ErrorResponsesCountAgainstTheLicense()
    {
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        var url = HttpAssertions.StatusUrl(TestData.NewScheduleId());

        var remaining = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var response = await client.GetAsync(url);
            await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
            remaining.Add(response.AssertRateLimitHeaders().Remaining);
        }

        Assert.Equal([2L, 1L, 0L], remaining);
        await (await client.GetAsync(url)).AssertEnvelopeAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task HealthProbesAreNotRateLimited(string path)
    {
        using var client = factory.CreateAnonymousClient();

        for (var i = 0; i < 3 * RateLimitedFactory.PermitLimit; i++)
        {
            var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.AssertNoRateLimitHeaders();
        }
    }
}
