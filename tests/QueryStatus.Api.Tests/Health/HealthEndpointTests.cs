using System.Net;
using System.Text.Json;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Health;

public sealed class HealthEndpointTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task ProbeAnswersOkWithJsonWithoutAuthentication(string path)
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
        Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task ProbeIgnoresAnInvalidCredential(string path)
    {
        using var client = factory.CreateAnonymousClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not_a_configured_key");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task ProbeCarriesRequestIdAndCorsButNoRateLimitHeaders(string path)
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        response.AssertRequestId();
        response.AssertAllowsAnyOrigin();
        response.AssertNoRateLimitHeaders();
    }
}
