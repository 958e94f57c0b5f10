namespace QueryStatus.Api.Observability;

/// <summary>Names the service's telemetry shares, so that every feature's instruments land on one meter.</summary>
public static class Telemetry
{
    /// <summary>The service's meter: <c>dotnet-counters monitor --counters QueryStatus.Api</c> shows all of it.</summary>
    public const string MeterName = "QueryStatus.Api";
}
