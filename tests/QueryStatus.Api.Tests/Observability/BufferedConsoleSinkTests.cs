using System.Text;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Observability;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace QueryStatus.Api.Tests.Observability;

public sealed class BufferedConsoleSinkTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly FakeTimeProvider _time = new();
    private readonly MemoryStream _output = new();

    private BufferedConsoleSink NewSink() =>
        new(new MessageTemplateTextFormatter("{Level:u3} {Message}{NewLine}"), Interval, _output, _time);

    private static LogEvent Event(LogEventLevel level, string text) =>
        new(DateTimeOffset.UnixEpoch, level, null, new MessageTemplateParser().Parse(text), []);

    private string Written() => Encoding.UTF8.GetString(_output.ToArray());

    [Fact]
    public void InformationLinesWaitForTheFlushInterval()
    {
        using var sink = NewSink();

        sink.Emit(Event(LogEventLevel.Information, "first"));
        sink.Emit(Event(LogEventLevel.Information, "second"));
        Assert.Equal("", Written());

        _time.Advance(Interval);
        Assert.Equal($"INF first{Environment.NewLine}INF second{Environment.NewLine}", Written());
    }

    [Fact]
    public void WarningIsWrittenAtOnceWithEverythingBeforeIt()
    {
        using var sink = NewSink();

        sink.Emit(Event(LogEventLevel.Information, "before"));
        sink.Emit(Event(LogEventLevel.Warning, "careful"));

        Assert.Equal($"INF before{Environment.NewLine}WRN careful{Environment.NewLine}", Written());
    }

    [Fact]
    public void DisposeWritesWhatIsBufferedAndLaterEventsAreDropped()
    {
        var sink = NewSink();
        sink.Emit(Event(LogEventLevel.Information, "last words"));

        sink.Dispose();
        sink.Emit(Event(LogEventLevel.Error, "too late"));
        sink.Dispose();

        Assert.Equal($"INF last words{Environment.NewLine}", Written());
    }

    [Fact]
    public void NoFlushIntervalIsRefused()
    {
        var sinks = new Serilog.LoggerConfiguration().WriteTo;

        Assert.Throws<ArgumentOutOfRangeException>(() => sinks.BufferedConsole(new MessageTemplateTextFormatter("{Message}"), TimeSpan.Zero));
    }

    [Fact]
    public void UnicodeIsWrittenAsUtf8WithoutByteOrderMark()
    {
        using (var sink = NewSink())
        {
            sink.Emit(Event(LogEventLevel.Information, "café ✓"));
        }

        var bytes = _output.ToArray();
        Assert.NotEqual(0xEF, bytes[0]);
        Assert.Equal($"INF café ✓{Environment.NewLine}", Encoding.UTF8.GetString(bytes));
    }
}
