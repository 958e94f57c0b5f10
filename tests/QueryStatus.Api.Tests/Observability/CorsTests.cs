using System.Net;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Observability;

public sealed class CorsTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private static HttpRequestMessage Preflight(string path, string origin = "https://app.example.com")
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "GET");
        request.Headers.Add("Access-Control-Request-Headers", "authorization");
        return request;
    }

    [Fact]
    public async Task PreflightWithoutCredentialAnswersNoContentAllowingAnyOriginAndTheAuthorizationHeader()
    {
        using var client = factory.CreateAnonymousClient();
        using var request = Preflight(HttpAssertions.StatusUrl(TestData.NewScheduleId()));

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("*", response.Single("Access-Control-Allow-Origin"));
        var allowedHeaders = response.Headers.GetValues("Access-Control-Allow-Headers")
            .SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries));
        Assert.Contains("authorization", allowedHeaders, StringComparer.OrdinalIgnoreCase);
        var allowedMethods = response.Headers.GetValues("Access-Control-Allow-Methods")
            .SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries));
        Assert.Contains("GET", allowedMethods);
        Assert.False(response.Headers.Contains("WWW-Authenticate"));
    }

    [Fact]
    public async Task CrossOriginGetExposesRequestIdAndRateLimitHeaders()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);
        using var request = new HttpRequestMessage(HttpMethod.Get, HttpAssertions.StatusUrl(schedule.ScheduleId));
        request.Headers.Add("Origin", "https://app.example.com");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        response.AssertAllowsAnyOrigin();
        var exposed = response.Headers.GetValues("Access-Control-Expose-Headers")
            .SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries)).ToList();
        Assert.Contains("X-Request-Id", exposed, StringComparer.OrdinalIgnoreCase);
        Assert.Contains("X-RateLimit-Remaining", exposed, StringComparer.OrdinalIgnoreCase);
    }
}
