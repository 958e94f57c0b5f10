using System.Buffers;
using System.Globalization;
using System.Text;
using Serilog;
using Serilog.Configuration;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;
using Serilog.Formatting;

namespace QueryStatus.Api.Observability;

/// <summary>
/// Writes formatted events to standard output through one buffer, flushed every <c>flushInterval</c>, when it
/// fills, for every Warning or worse, and when the logger is disposed. Serilog's console sink writes (and flushes)
/// each event with its own call: at tens of thousands of request lines a second that was most of the logging cost.
/// The price is that Information lines reach the console up to <c>flushInterval</c> late, and are lost if the process
/// is killed before a flush.
/// </summary>
/// <remarks>
/// Measured end to end (bench/RESULTS.md, 2026-12-04, status polls, both with Serilog.Formatting.Compact's
/// CompactJsonFormatter, 10 same-minute pairs): 12.7% less server CPU per poll than Serilog.Sinks.Async wrapping Serilog.Sinks.Console,
/// the library's stdout sink configured for speed. (Serilog.Sinks.File with <c>buffered: true</c> on /dev/stdout would
/// be cheaper, but writes nothing when stdout is a pipe, as in containers.) Events are formatted on the logging
/// thread, outside the lock, into per-thread buffers; the lock only covers copying the bytes into the shared buffer,
/// so request threads do not queue behind each other's formatting.
/// </remarks>
public sealed class BufferedConsoleSink : ILogEventSink, IDisposable
{
    public static readonly TimeSpan DefaultFlushInterval = TimeSpan.FromMilliseconds(200);

    private const int BufferSize = 32 * 1024;

    private readonly ITextFormatter _formatter;
    private readonly Stream _output;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _buffered;
    private readonly Lock _lock = new();
    private readonly ITimer _timer;
    private bool _disposed;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_event;

    [ThreadStatic]
    private static StringWriter? t_text;

    /// <param name="formatter">Writes each event (one JSON line, for instance).</param>
    /// <param name="flushInterval">The longest an Information line waits in the buffer.</param>
    /// <param name="output">Standard output unless given (tests pass a stream).</param>
    /// <param name="time">The clock of the flush timer; the system's unless given.</param>
    public BufferedConsoleSink(ITextFormatter formatter, TimeSpan flushInterval, Stream? output = null, TimeProvider? time = null)
    {
        _formatter = formatter;
        _output = output ?? Console.OpenStandardOutput();
        _timer = (time ?? TimeProvider.System).CreateTimer(static state => ((BufferedConsoleSink)state!).FlushQuietly(), this, flushInterval, flushInterval);
    }

    public void Emit(LogEvent logEvent)
    {
        // Taken from the thread while in use: formatting may log (a value's ToString), and that nested event must
        // not reuse this one's buffer.
        var formatted = t_event ?? new ArrayBufferWriter<byte>(1024);
        t_event = null;
        formatted.ResetWrittenCount();
        try
        {
            Format(logEvent, formatted);
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
                Append(formatted.WrittenSpan);
                if (logEvent.Level >= LogEventLevel.Warning)
                {
                    WriteBuffered();
                    _output.Flush();
                }
            }
        }
        finally
        {
            // A large one-off event (a long exception) should not pin a large buffer to its thread.
            if (formatted.Capacity <= MaxKeptBufferBytes)
            {
                t_event = formatted;
            }
        }
    }

    private void Format(LogEvent logEvent, ArrayBufferWriter<byte> formatted)
    {
        var text = t_text ?? new StringWriter(CultureInfo.InvariantCulture);
        t_text = null;
        try
        {
            var builder = text.GetStringBuilder().Clear();
            _formatter.Format(logEvent, text);
            // Encoded straight from the builder's chunks: no string per event.
            var encoder = t_encoder ??= Utf8.GetEncoder();
            encoder.Reset();
            foreach (var chunk in builder.GetChunks())
            {
                var chars = chunk.Span;
                var bytes = formatted.GetSpan(Utf8.GetMaxByteCount(chars.Length));
                formatted.Advance(encoder.GetBytes(chars, bytes, flush: false));
            }
            formatted.Advance(encoder.GetBytes([], formatted.GetSpan(Utf8.GetMaxByteCount(0)), flush: true));
        }
        finally
        {
            if (text.GetStringBuilder().Capacity <= MaxKeptBufferBytes)
            {
                t_text = text;
            }
        }
    }

    /// <summary>A per-thread buffer larger than this (a long exception) is dropped after use, not kept for the thread.</summary>
    public const int MaxKeptBufferBytes = 64 * 1024;

    [ThreadStatic]
    private static Encoder? t_encoder;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length - _buffered)
        {
            WriteBuffered();
            if (bytes.Length > _buffer.Length)
            {
                _output.Write(bytes);
                return;
            }
        }
        bytes.CopyTo(_buffer.AsSpan(_buffered));
        _buffered += bytes.Length;
    }

    private void WriteBuffered()
    {
        if (_buffered == 0)
        {
            return;
        }
        // Emptied before writing: a failing stream must not make every later event retry the same bytes.
        var count = _buffered;
        _buffered = 0;
        _output.Write(_buffer, 0, count);
    }

    /// <summary>
    /// The timer's flush. A failed write (standard output closed, a full disk behind a redirect) is reported to
    /// Serilog's SelfLog, as Serilog does for sinks that throw while emitting: on the timer's thread an exception
    /// would end the process.
    /// </summary>
    private void FlushQuietly()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                FlushQuietlyLocked();
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            // Under the lock, so that nothing emitted after the last flush is dropped with the stream.
            FlushQuietlyLocked();
            _disposed = true;
            try
            {
                _output.Dispose();
            }
            catch (IOException e)
            {
                SelfLog.WriteLine("BufferedConsole could not write to standard output: {0}", e.Message);
            }
        }
    }

    private void FlushQuietlyLocked()
    {
        try
        {
            WriteBuffered();
            _output.Flush();
        }
        catch (IOException e)
        {
            SelfLog.WriteLine("BufferedConsole could not write to standard output: {0}", e.Message);
        }
    }
}

public static class BufferedConsoleSinkExtensions
{
    /// <summary>
    /// <c>"WriteTo": [{ "Name": "BufferedConsole", "Args": { "formatter": "…", "flushInterval": "00:00:00.2" } }]</c>
    /// (with <c>"Using": ["QueryStatus.Api"]</c>).
    /// </summary>
    public static LoggerConfiguration BufferedConsole(
        this LoggerSinkConfiguration sinks,
        ITextFormatter formatter,
        TimeSpan? flushInterval = null,
        LogEventLevel restrictedToMinimumLevel = LevelAlias.Minimum,
        LoggingLevelSwitch? levelSwitch = null)
    {
        var interval = flushInterval ?? BufferedConsoleSink.DefaultFlushInterval;
        if (interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(flushInterval), "Serilog BufferedConsole flushInterval must be positive.");
        }
        return sinks.Sink(new BufferedConsoleSink(formatter, interval), restrictedToMinimumLevel, levelSwitch);
    }
}
