using System.Text;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Cli;
using Spectre.Console;

namespace QueryStatus.Api.Tests.Cli;

/// <summary>What one run of <c>qs</c> left behind: its exit code, standard output (as bytes) and standard error.</summary>
public sealed record QsResult(int ExitCode, byte[] StdoutBytes, string Stderr)
{
    public string Stdout => Encoding.UTF8.GetString(StdoutBytes);

    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Runs <c>qs</c> in-process (<see cref="CliApp.RunAsync"/>) against a <see cref="QueryStatusFactory"/>: real HTTP
/// through the test server's handler, <c>QS_URL</c> the test server, <c>QS_API_KEY</c> <see cref="TestKeys.Primary"/>
/// (license lic_test) unless a test says otherwise, standard output and error captured.
/// </summary>
public sealed class Qs(QueryStatusFactory factory)
{
    /// <summary>The environment variables qs sees; a test may change or remove them.</summary>
    public Dictionary<string, string> Environment { get; } = new()
    {
        [ConnectionSettings.UrlVariable] = factory.Server.BaseAddress.ToString(),
        [ConnectionSettings.ApiKeyVariable] = TestKeys.Primary.Key,
    };

    /// <summary>The innermost handler (the test server's unless a test puts its own, or one in front of it).</summary>
    public Func<HttpMessageHandler> Handler { get; set; } = () => factory.Server.CreateHandler();

    /// <summary>The client's clock (the real one unless a test gives a fake).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Standard output is a terminal (a live progress bar, ANSI escapes) instead of a file or pipe.</summary>
    public bool Terminal { get; set; }

    public Task<QsResult> RunAsync(params string[] args) => Start(args).Completion;

    public Task<QsResult> RunWithInputAsync(string stdin, params string[] args) => Start(args, stdin).Completion;

    /// <summary>Starts qs; the test may read its output while it runs and cancel it (Ctrl+C).</summary>
    public QsRun Start(string[] args, string stdin = "", CancellationToken cancellation = default)
    {
        var stdout = new CaptureStream();
        var stderr = new SynchronizedStringWriter();
        var writer = new StreamWriter(stdout, new UTF8Encoding(false)) { AutoFlush = true };
        var console = Terminal
            ? AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(writer),
                Ansi = AnsiSupport.Yes,
                ColorSystem = ColorSystemSupport.Standard,
                Interactive = InteractionSupport.Yes,
            })
            : CliEnvironment.CreateConsole(writer, terminal: false);
        var environment = new Dictionary<string, string>(Environment);
        var env = new CliEnvironment
        {
            Out = console,
            RawOut = stdout,
            Error = stderr,
            In = new StringReader(stdin),
            GetEnvironmentVariable = name => environment.GetValueOrDefault(name),
            Handler = Handler,
            Time = Time,
            Cancellation = cancellation,
        };
        // Off the test's thread, as a process of its own would be.
        var run = Task.Run(() => CliApp.RunAsync(args, env));
        return new QsRun(stdout, stderr, run);
    }
}

/// <summary>A run of qs in progress.</summary>
public sealed class QsRun(CaptureStream stdout, SynchronizedStringWriter stderr, Task<int> exitCode)
{
    /// <summary>Standard output so far.</summary>
    public string Stdout => Encoding.UTF8.GetString(stdout.Snapshot());

    public string Stderr => stderr.ToString();

    public bool HasExited => exitCode.IsCompleted;

    /// <summary>The result once qs has exited; a test fails rather than hang if it does not within a generous bound.</summary>
    public Task<QsResult> Completion => CompleteAsync();

    private async Task<QsResult> CompleteAsync()
    {
        var code = await exitCode.WaitAsync(QsWait.Bound);
        return new QsResult(code, stdout.Snapshot(), stderr.ToString());
    }
}

public static class QsWait
{
    /// <summary>How long a test waits (wall clock) for something that should happen before it gives up; never asserted on.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test if it still does not after <see cref="Bound"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var patience = new CancellationTokenSource(Bound);
        while (!condition())
        {
            if (patience.IsCancellationRequested)
            {
                Assert.Fail($"Gave up waiting: {what}.");
            }
            await Task.Delay(5);
        }
    }
}

/// <summary>Standard output: written by qs on its thread, read by the test on its own.</summary>
public sealed class CaptureStream : Stream
{
    private readonly MemoryStream _bytes = new();

    public byte[] Snapshot()
    {
        lock (_bytes)
        {
            return _bytes.ToArray();
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_bytes)
        {
            _bytes.Write(buffer);
        }
    }

    public override void Flush()
    {
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>Standard error, readable while qs writes to it.</summary>
public sealed class SynchronizedStringWriter : StringWriter
{
    public override void Write(char value)
    {
        lock (this)
        {
            base.Write(value);
        }
    }

    public override void Write(string? value)
    {
        lock (this)
        {
            base.Write(value);
        }
    }

    public override void Write(char[] buffer, int index, int count)
    {
        lock (this)
        {
            base.Write(buffer, index, count);
        }
    }

    public override void WriteLine(string? value)
    {
        lock (this)
        {
            base.WriteLine(value);
        }
    }

    public override string ToString()
    {
        lock (this)
        {
            return base.ToString();
        }
    }
}
