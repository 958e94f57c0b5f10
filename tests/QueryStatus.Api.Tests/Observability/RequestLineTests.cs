using QueryStatus.Api.Observability;
using QueryStatus.Api.Status;
using Serilog.Events;

namespace QueryStatus.Api.Tests.Observability;

/// <summary>
/// The request line's event shares value objects for what nearly every line says (GET, the status path, no
/// license); whatever a request actually sent must still be what the line says.
/// </summary>
public sealed class RequestLineTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 21, 0, 0, TimeSpan.Zero);

    private static object? Value(LogEvent logEvent, string name) => Assert.IsType<ScalarValue>(logEvent.Properties[name]).Value;

    [Fact]
    public void StatusPollLineSaysWhatTheRequestSent()
    {
        var line = RequestIdMiddleware.RequestLine(Now, LogEventLevel.Information, "GET", StatusApi.StatusPath, 200,
            TimeSpan.FromTicks(437_409), "id_1", "lic_1");

        Assert.Equal("GET", Value(line, "RequestMethod"));
        Assert.Equal(StatusApi.StatusPath, Value(line, "RequestPath"));
        Assert.Equal(200, Value(line, "StatusCode"));
        Assert.Equal(43.7409, Value(line, "Elapsed"));
        Assert.Equal("id_1", Value(line, "RequestId"));
        Assert.Equal("lic_1", Value(line, "LicenseId"));
        Assert.Equal(Now, line.Timestamp);
        Assert.Equal(RequestIdMiddleware.MessageTemplateText, line.MessageTemplate.Text);
    }

    [Fact]
    public void MethodAndPathInAnotherCaseAreLoggedAsSent()
    {
        var line = RequestIdMiddleware.RequestLine(Now, LogEventLevel.Information, "get", "/ENTERPRISE/v2/query/STATUS", 404,
            TimeSpan.Zero, "id_2", null);

        Assert.Equal("get", Value(line, "RequestMethod"));
        Assert.Equal("/ENTERPRISE/v2/query/STATUS", Value(line, "RequestPath"));
        Assert.Equal(404, Value(line, "StatusCode"));
        Assert.Equal("-", Value(line, "LicenseId"));
    }

    [Fact]
    public void OtherMethodsPathsAndStatusesAreLoggedAsSent()
    {
        var line = RequestIdMiddleware.RequestLine(Now, LogEventLevel.Error, "POST", "/enterprise/v2/query/data/json", 700,
            TimeSpan.FromMilliseconds(1), "id_3", "lic_3");

        Assert.Equal("POST", Value(line, "RequestMethod"));
        Assert.Equal("/enterprise/v2/query/data/json", Value(line, "RequestPath"));
        Assert.Equal(700, Value(line, "StatusCode"));
        Assert.Equal(LogEventLevel.Error, line.Level);
    }
}
