using System.Text;
using Spectre.Console;

namespace QueryStatus.Cli;

/// <summary>
/// What <c>qs</c> runs in: its standard streams, environment variables and the HTTP handler to reach the service.
/// <see cref="FromSystemConsole"/> is the real process; tests build one over in-memory streams and the test server's handler.
/// </summary>
public sealed class CliEnvironment
{
    /// <summary>Standard output for text (statuses, progress, help). Interactive means a live progress bar.</summary>
    public required IAnsiConsole Out { get; init; }

    /// <summary>Standard output for bytes: rows go here exactly as the service sent them.</summary>
    public required Stream RawOut { get; init; }

    /// <summary>Standard error: errors and warnings.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Standard input (<c>qs submit -</c>).</summary>
    public required TextReader In { get; init; }

    /// <summary>Reads an environment variable (<c>QS_URL</c>, <c>QS_API_KEY</c>); null when it is not set.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The innermost HTTP handler; null for the default (sockets).</summary>
    public Func<HttpMessageHandler>? Handler { get; init; }

    /// <summary>The clock of the client's pauses (polls of a server that does not wait, retries).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Cancels the running command (Ctrl+C).</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>The process's own console: a live progress bar only when standard output is a terminal.</summary>
    public static CliEnvironment FromSystemConsole()
    {
        var interrupted = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // The first Ctrl+C ends the command cleanly (exit 130); a second one ends the process.
            e.Cancel = !interrupted.IsCancellationRequested;
            interrupted.Cancel();
        };
        return new CliEnvironment
        {
            Out = CreateConsole(Console.Out, terminal: !Console.IsOutputRedirected),
            RawOut = Console.OpenStandardOutput(),
            Error = Console.Error,
            In = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false)),
            Cancellation = interrupted.Token,
        };
    }

    /// <summary>
    /// A console writing to <paramref name="writer"/>: on a terminal with colours and a live progress bar; otherwise plain
    /// text that is never wrapped (a script reading it gets each line whole).
    /// </summary>
    public static IAnsiConsole CreateConsole(TextWriter writer, bool terminal)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = NoWrapWidth;
        }
        return console;
    }

    /// <summary>A width no line of ours reaches: redirected output is not wrapped.</summary>
    internal const int NoWrapWidth = 100_000;
}
