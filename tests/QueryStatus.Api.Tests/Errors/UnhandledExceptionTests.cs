using System.Net;
using QueryStatus.Api.Tests.Infrastructure;
using Serilog.Events;

namespace QueryStatus.Api.Tests.Errors;

public sealed class UnhandledExceptionTests(InternalFaultFactory factory) : IClassFixture<InternalFaultFactory>
{
    private async Task<HttpResponseMessage> GetStatusAsync()
    {
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        return await client.GetAsync(HttpAssertions.StatusUrl(TestData.NewScheduleId()));
    }

    [Fact]
    public async Task ExceptionInHandlerAnswersInternalServerErrorEnvelopeWithoutTheExceptionText()
    {
        var readsBefore = factory.FaultStore.Reads;

        var response = await GetStatusAsync();

        await response.AssertEnvelopeAsync(HttpStatusCode.InternalServerError, "INTERNAL_SERVER_ERROR");
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(InternalFaultFactory.SecretDetail, body);
        Assert.DoesNotContain(nameof(InvalidOperationException), body);
        Assert.DoesNotContain(nameof(ThrowingStore), body);
        Assert.True(factory.FaultStore.Reads > readsBefore, "The request never reached the faulty store.");
    }

    [Fact]
    public async Task ExceptionInHandlerIsLoggedAtErrorLevel()
    {
        var response = await GetStatusAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

        Assert.Contains(factory.Logs.Events, e =>
            e.Level == LogEventLevel.Error
            && e.Exception is InvalidOperationException { Message: InternalFaultFactory.SecretDetail });
    }

    [Fact]
    public async Task ExceptionLogCarriesTheRequestIdOfTheResponse()
    {
        var response = await GetStatusAsync();
        var requestId = response.AssertRequestId();

        Assert.Contains(factory.Logs.Events, e =>
            e.Level == LogEventLevel.Error
            && e.Exception is InvalidOperationException
            && e.Properties.TryGetValue("RequestId", out var id)
            && id is ScalarValue { Value: string value }
            && value == requestId);
    }

    [Fact]
    public async Task InternalServerErrorCarriesRequestIdCorsAndRateLimitHeaders()
    {
        var response = await GetStatusAsync();

        await response.AssertEnvelopeAsync(HttpStatusCode.InternalServerError, "INTERNAL_SERVER_ERROR");
        response.AssertRequestId();
        response.AssertAllowsAnyOrigin();
        response.AssertRateLimitHeaders();
    }

    [Fact]
    public async Task HealthEndpointsStayUpWhenOnlyReadsFail()
    {
        using var client = factory.CreateAnonymousClient();

        var healthz = await client.GetAsync("/healthz");
        var readyz = await client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
    }
}
