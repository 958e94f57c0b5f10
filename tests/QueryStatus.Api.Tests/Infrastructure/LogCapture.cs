using System.Collections.Concurrent;
using Serilog.Core;
using Serilog.Events;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>Keeps every log event the app writes (Serilog reads sinks from DI), rendered as text.</summary>
public sealed class LogCapture : ILogEventSink
{
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public IReadOnlyList<LogEvent> Events => [.. _events];

    public void Emit(LogEvent logEvent) => _events.Enqueue(logEvent);

    /// <summary>Each event as one line: message, every property, and the exception if any.</summary>
    public IReadOnlyList<string> Lines() =>
        [.. _events.Select(e =>
            $"{e.RenderMessage()} | {string.Join(", ", e.Properties.Select(p => $"{p.Key}={p.Value}"))} | {e.Exception}")];
}
