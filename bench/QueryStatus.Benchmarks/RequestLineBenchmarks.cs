using BenchmarkDotNet.Attributes;
using QueryStatus.Api.Observability;
using Serilog;
using Serilog.Context;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace QueryStatus.Benchmarks;

/// <summary>
/// The request line written once per request: building its event, formatting it as CLEF, and the whole trip
/// through a Serilog logger set up as in production (LogContext, SourceContext, the buffered console sink,
/// here writing to a null stream). The RUNNING status poll's budget is a few tens of µs, so this is the part of
/// it that logging costs.
/// </summary>
[MemoryDiagnoser]
public class RequestLineBenchmarks
{
    private static readonly TimeSpan Elapsed = TimeSpan.FromTicks(437_409);
    private const string RequestId = "CzB12ZNcp6GdzOowfFyxGjhpRp4Zt4rS";

    private readonly CompactJsonFormatter _formatter = new();
    private readonly StringWriter _output = new();
    private LogEvent _event = null!;
    private Logger _logger = null!;
    private ILogger _contextLogger = null!;
    private BufferedConsoleSink _sink = null!;

    [GlobalSetup]
    public void Setup()
    {
        _event = NewEvent();
        _sink = new BufferedConsoleSink(_formatter, TimeSpan.FromSeconds(1), Stream.Null);
        _logger = new LoggerConfiguration().Enrich.FromLogContext().WriteTo.Sink(_sink).CreateLogger();
        _contextLogger = _logger.ForContext<RequestIdMiddleware>();
    }

    [GlobalCleanup]
    public void Cleanup() => _logger.Dispose();

    private static LogEvent NewEvent() => RequestIdMiddleware.RequestLine(DateTimeOffset.Now, LogEventLevel.Information,
        "GET", "/enterprise/v2/query/status", 200, Elapsed, RequestId, "lic_ab");

    [Benchmark(Description = "build the request line's event")]
    public LogEvent Build() => NewEvent();

    // The six fields only: in the service, enrichers add SourceContext and ConnectionId before it is formatted.
    [Benchmark(Description = "format the request line (CLEF)")]
    public int Format()
    {
        _output.GetStringBuilder().Clear();
        _formatter.Format(_event, _output);
        return _output.GetStringBuilder().Length;
    }

    [Benchmark(Description = "build and write the request line through Serilog (LogContext pushed)")]
    public void Write()
    {
        using (LogContext.PushProperty("RequestId", RequestId))
        {
            _contextLogger.Write(NewEvent());
        }
    }
}
