using System.Net;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Errors;

public sealed class StoreOutageTests(StoreOutageFactory factory) : IClassFixture<StoreOutageFactory>
{
    [Fact]
    public async Task UnavailableStoreAnswersServiceUnavailableEnvelope()
    {
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());

        var response = await client.GetAsync(HttpAssertions.StatusUrl(TestData.NewScheduleId()));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        Assert.NotNull(description);
        Assert.DoesNotContain(StoreOutageFactory.SecretDetail, await response.Content.ReadAsStringAsync());
        response.AssertAllowsAnyOrigin();
        response.AssertRateLimitHeaders();
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task ReadinessProbeAnswersServiceUnavailableEnvelopeWhenTheStoreIsDown()
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync("/readyz");

        await response.AssertEnvelopeAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        Assert.DoesNotContain(StoreOutageFactory.SecretDetail, await response.Content.ReadAsStringAsync());
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task LivenessProbeStaysOkWhenTheStoreIsDown()
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }
}
