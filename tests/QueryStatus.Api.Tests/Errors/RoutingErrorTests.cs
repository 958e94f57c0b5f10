using System.Net;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Errors;

public sealed class RoutingErrorTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [Theory]
    [InlineData("/no/such/route")]
    [InlineData("/enterprise/v2/query/statuses")]
    [InlineData("/enterprise/v1/query/status?schedule_id=abc")]
    public async Task UnknownRouteAnswersNotFoundEnvelope(string path)
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync(path);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        Assert.NotNull(description);
        Assert.DoesNotContain("<html", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UnknownRouteAnswersNotFoundEnvelopeForAnAuthenticatedCaller()
    {
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());

        var response = await client.GetAsync("/enterprise/v2/query/nothing-here");

        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("DELETE")]
    [InlineData("PUT")]
    public async Task WrongMethodOnStatusPathAnswersMethodNotAllowedEnvelopeAllowingGet(string method)
    {
        using var client = factory.CreateAnonymousClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), HttpAssertions.StatusUrl(TestData.NewScheduleId()));

        var response = await client.SendAsync(request);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
        Assert.Contains("GET", response.Content.Headers.Allow);
        Assert.Contains(method, description);
    }

    [Fact]
    public async Task WrongMethodWithValidCredentialStillAnswersMethodNotAllowedEnvelope()
    {
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var request = new HttpRequestMessage(HttpMethod.Post, HttpAssertions.StatusUrl(TestData.NewScheduleId()))
        {
            Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
        };

        var response = await client.SendAsync(request);

        await response.AssertEnvelopeAsync(HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
        Assert.Contains("GET", response.Content.Headers.Allow);
    }
}
