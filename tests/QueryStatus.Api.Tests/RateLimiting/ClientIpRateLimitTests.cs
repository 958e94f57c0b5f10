using System.Net;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.RateLimiting;

/// <summary>
/// Requests without a credential are limited per client IP. TestServer gives no client IP, so all of a
/// host's anonymous requests share one bucket: each test here owns its host.
/// </summary>
public sealed class ClientIpRateLimitTests
{
    [Fact]
    public async Task UnauthenticatedRequestsShareTheClientIpBucketAndTheFourthIsTooManyRequests()
    {
        using var factory = new RateLimitedFactory();
        using var client = factory.CreateAnonymousClient();
        var url = HttpAssertions.StatusUrl(TestData.NewScheduleId());

        var remaining = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var response = await client.GetAsync(url);
            await response.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            remaining.Add(response.AssertRateLimitHeaders().Remaining);
        }
        var rejected = await client.GetAsync(url);

        Assert.Equal([2L, 1L, 0L], remaining);
        await rejected.AssertEnvelopeAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        Assert.Matches("^[1-9][0-9]*$", rejected.Single("Retry-After"));
    }

    [Fact]
    public async Task ExhaustedClientIpBucketDoesNotAffectAuthenticatedLicenses()
    {
        using var factory = new RateLimitedFactory();
        using var anonymous = factory.CreateAnonymousClient();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await anonymous.GetAsync("/no/such/route")).StatusCode);
        }
        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.TooManyRequests], statuses);

        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);
        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((3L, 2L), response.AssertRateLimitHeaders());
    }
}
