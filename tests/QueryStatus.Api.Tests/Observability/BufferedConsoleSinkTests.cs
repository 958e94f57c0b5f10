using System.Text;
using System.Text.Json.Nodes;
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

    [Fact]
    public void CompactJsonLinesStayWholeAndInOrderAroundOneLargerThanTheBuffer()
    {
        var big = new string('x', 100_000);
        using (var sink = new BufferedConsoleSink(new Serilog.Formatting.Compact.CompactJsonFormatter(), Interval, _output, _time))
        {
            sink.Emit(Event(LogEventLevel.Information, "before"));
            sink.Emit(new LogEvent(DateTimeOffset.UnixEpoch, LogEventLevel.Information, null, new MessageTemplateParser().Parse("big {Big}"),
                [new LogEventProperty("Big", new ScalarValue(big))]));
            sink.Emit(Event(LogEventLevel.Information, "after"));
        }

        var lines = Written().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!).ToList();
        Assert.Equal(["before", "big {Big}", "after"], lines.Select(line => line["@mt"]!.GetValue<string>()));
        Assert.Equal(big, lines[1]["Big"]!.GetValue<string>());
    }

    [Fact]
    public void AnEventLoggedWhileAnotherIsFormattedLeavesBothLinesWhole()
    {
        using (var sink = new BufferedConsoleSink(new Serilog.Formatting.Compact.CompactJsonFormatter(), Interval, _output, _time))
        {
            var chatty = new ChattyValue(() => sink.Emit(Event(LogEventLevel.Information, "inner")));
            sink.Emit(new LogEvent(DateTimeOffset.UnixEpoch, LogEventLevel.Information, null, new MessageTemplateParser().Parse("outer {Chatty}"),
                [new LogEventProperty("Chatty", new ScalarValue(chatty)), new LogEventProperty("After", new ScalarValue("still here"))]));
        }

        var lines = Written().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!).ToList();
        Assert.Equal(["inner", "outer {Chatty}"], lines.Select(line => line["@mt"]!.GetValue<string>()));
        Assert.Equal("still here", lines[1]["After"]!.GetValue<string>());
    }

    [Fact]
    public void FailingOutputNeverThrowsFromTheTimerOrOnDispose()
    {
        var sink = new BufferedConsoleSink(new MessageTemplateTextFormatter("{Message}{NewLine}"), Interval, new BrokenStream(), _time);
        sink.Emit(Event(LogEventLevel.Information, "nowhere to go"));

        var timer = Record.Exception(() => _time.Advance(Interval));
        sink.Emit(Event(LogEventLevel.Information, "still nowhere"));
        var dispose = Record.Exception(sink.Dispose);

        Assert.Null(timer);
        Assert.Null(dispose);
    }

    /// <summary>Standard output after the reader went away: every write fails.</summary>
    private sealed class BrokenStream : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => throw new IOException("Broken pipe");
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("Broken pipe");
        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("Broken pipe");
    }
}
