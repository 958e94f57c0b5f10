using System.Net;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.Infrastructure;
using Serilog.Events;

namespace QueryStatus.Api.Tests.Observability;

public sealed class RequestLogTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private const string RequestLogTemplateStart = "HTTP {RequestMethod} {RequestPath} responded {StatusCode}";

    /// <summary>The request log events (one expected) that carry <paramref name="requestId"/>.</summary>
    private List<LogEvent> RequestLogsFor(string requestId) =>
        [.. factory.Logs.Events.Where(e =>
            e.MessageTemplate.Text.StartsWith(RequestLogTemplateStart, StringComparison.Ordinal)
            && Scalar(e, "RequestId") is string id && id == requestId)];

    private static object? Scalar(LogEvent e, string property) =>
        e.Properties.TryGetValue(property, out var value) && value is ScalarValue scalar ? scalar.Value : null;

    [Fact]
    public async Task SuccessfulRequestWritesOneLineWithRequestIdLicenseStatusAndElapsed()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var requestId = response.AssertRequestId();

        var line = Assert.Single(RequestLogsFor(requestId));
        Assert.Equal(license, Scalar(line, "LicenseId"));
        Assert.Equal(200, Convert.ToInt32(Scalar(line, "StatusCode"), System.Globalization.CultureInfo.InvariantCulture));
        var elapsed = Assert.IsType<double>(Scalar(line, "Elapsed"));
        Assert.InRange(elapsed, 0, double.MaxValue);
        Assert.Equal(Math.Round(elapsed, 4), elapsed); // to 0.1 µs, as the line shows it
        var rendered = line.RenderMessage();
        Assert.Contains(requestId, rendered);
        Assert.Contains(license, rendered);
        Assert.Contains("responded 200 in ", rendered);
        Assert.Matches(@"in \d+(\.\d{1,4})? ms", rendered);
        Assert.Contains(factory.Logs.Lines(), l => l.Contains(requestId) && l.Contains(license) && l.Contains(" 200 "));
    }

    [Fact]
    public async Task EveryRequestWritesExactlyOneRequestLine()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);

        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId))).AssertRequestId());
        }

        Assert.All(ids, id => Assert.Single(RequestLogsFor(id)));
    }

    [Fact]
    public async Task FailedRequestLineCarriesItsErrorStatusAndLicense()
    {
        var license = TestData.NewLicenseId();
        using var client = factory.CreateClientWithJwt(license);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(TestData.NewScheduleId()));
        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");

        var line = Assert.Single(RequestLogsFor(response.AssertRequestId()));
        Assert.Equal(404, Convert.ToInt32(Scalar(line, "StatusCode"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(license, Scalar(line, "LicenseId"));
        Assert.IsType<double>(Scalar(line, "Elapsed"));
    }

    [Fact]
    public async Task UnauthenticatedRequestLineHasNoLicense()
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync(HttpAssertions.StatusUrl(TestData.NewScheduleId()));
        await response.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        var line = Assert.Single(RequestLogsFor(response.AssertRequestId()));
        Assert.Equal(401, Convert.ToInt32(Scalar(line, "StatusCode"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("-", Scalar(line, "LicenseId"));
    }

    [Fact]
    public async Task RequestLineLeavesOutTheQueryString()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId, "offset_start=1&offset_end=2"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var line = Assert.Single(RequestLogsFor(response.AssertRequestId()));
        Assert.DoesNotContain(schedule.ScheduleId, line.RenderMessage());
        Assert.DoesNotContain("offset_start", line.RenderMessage());
    }
}
