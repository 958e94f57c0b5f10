using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace QueryStatus.Bench;

/// <summary>
/// A server process on loopback: started through <c>/bin/sh -c 'exec dotnet ...'</c> so that the pid we
/// hold is the server's own (its CPU time is read from /proc/&lt;pid&gt;/stat), with standard output sent
/// to /dev/null (request logs must not hit a terminal) and standard error to a file shown on failure.
/// </summary>
public sealed class Server : IDisposable
{
    private static readonly long TicksPerSecond = ClockTicks();

    private readonly Process _process;
    private readonly string _stderrFile;

    private Server(string name, Process process, int port, string stderrFile)
    {
        Name = name;
        _process = process;
        Port = port;
        _stderrFile = stderrFile;
    }

    public string Name { get; }
    public int Port { get; }
    public int Pid => _process.Id;
    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public static async Task<Server> StartAsync(
        string name, string dll, IReadOnlyDictionary<string, string> environment, IEnumerable<string> args, string workDir)
    {
        var port = FreePort();
        var stderrFile = Path.Combine(workDir, name + ".stderr.log");
        var quoted = string.Join(' ', args.Select(Quote));
        var info = new ProcessStartInfo("/bin/sh")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec dotnet {Quote(dll)} --urls http://127.0.0.1:{port} {quoted} >/dev/null 2>{Quote(stderrFile)}");
        // As deployed (the image's runtime settings), then what this server is given, which may override them.
        foreach (var (key, value) in ImageEnvironment.Values.Concat(environment))
        {
            info.Environment[key] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {name}.");
        var server = new Server(name, process, port, stderrFile);
        await server.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        return server;
    }

    /// <summary>
    /// What else does this server's work and is counted as its CPU (its database: <see cref="PostgresCluster.CpuMicroseconds"/>),
    /// so that CPU per request compares a service with its database against one that holds everything itself.
    /// </summary>
    public Func<long>? AlsoCount { get; set; }

    /// <summary>utime + stime of the server process (plus <see cref="AlsoCount"/>), in microseconds.</summary>
    public long CpuMicroseconds()
    {
        var (own, also) = CpuSplit();
        return own + also;
    }

    /// <summary>The server process's own CPU time and that of <see cref="AlsoCount"/> (0 without it), in microseconds.</summary>
    public (long Own, long Also) CpuSplit() => (ProcessCpu(Pid).Own, AlsoCount?.Invoke() ?? 0);

    /// <summary>Where the server's CPU counters stand now, for <see cref="Since"/>.</summary>
    public CpuMark Mark() => new(CpuSplit(), JitThreads());

    /// <summary>The CPU the server (and its database, <see cref="AlsoCount"/>) used since <paramref name="mark"/>.</summary>
    public CpuUse Since(CpuMark mark)
    {
        var (own, also) = CpuSplit();
        return new CpuUse(own - mark.Cpu.Own, also - mark.Cpu.Also,
            JitThreads().Sum(t => t.Value - mark.JitThreads.GetValueOrDefault(t.Key)));
    }

    public sealed record CpuMark((long Own, long Also) Cpu, Dictionary<int, long> JitThreads);

    /// <summary>
    /// CPU used over an interval, in microseconds: the server process's own, its database's, and, of its own, what the
    /// runtime's tiered-compilation thread used recompiling methods. That last errs low: a JIT thread that ended within
    /// the interval loses its last moments.
    /// </summary>
    public sealed record CpuUse(long OwnUs, long DatabaseUs, long JitUs)
    {
        public long TotalUs => OwnUs + DatabaseUs;

        /// <summary>The share of the server's own CPU that went to recompiling methods.</summary>
        public double JitShare => (double)JitUs / Math.Max(1, OwnUs);
    }

    /// <summary>
    /// CPU time so far of the runtime's tiered-compilation thread (".NET Tiered Com", which recompiles hot methods
    /// at tier 1 in the background), in microseconds, by thread id: the runtime ends that thread after a few idle
    /// seconds and starts another, so <see cref="Since"/> counts per thread.
    /// </summary>
    private Dictionary<int, long> JitThreads()
    {
        var threads = new Dictionary<int, long>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{Pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd() != ".NET Tiered Com")
                {
                    continue;
                }
                threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] =
                    CpuOfStat(File.ReadAllText(Path.Combine(task, "stat"))).Own;
            }
            catch (IOException)
            {
                // The thread ended while it was read.
            }
        }
        return threads;
    }

    /// <summary>
    /// CPU time of process <paramref name="pid"/> from <c>/proc/&lt;pid&gt;/stat</c>, in microseconds: its own
    /// (utime + stime) and that of its children it has waited for (cutime + cstime).
    /// </summary>
    public static (long Own, long ReapedChildren) ProcessCpu(int pid) => CpuOfStat(File.ReadAllText($"/proc/{pid}/stat"));

    /// <summary>The CPU times of a process's or thread's <c>stat</c> file (<c>/proc/&lt;pid&gt;[/task/&lt;tid&gt;]/stat</c>), in microseconds.</summary>
    private static (long Own, long ReapedChildren) CpuOfStat(string stat)
    {
        // Fields after the command name (which is in parentheses and may contain spaces): state is field 3,
        // utime field 14, stime field 15, cutime 16, cstime 17.
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long Field(int n) => long.Parse(rest[n - 3], CultureInfo.InvariantCulture) * 1_000_000 / TicksPerSecond;
        return (Field(14) + Field(15), Field(16) + Field(17));
    }

    /// <summary>The parent pid of process <paramref name="pid"/> (field 4 of /proc/&lt;pid&gt;/stat); -1 if it is gone.</summary>
    public static int ParentPid(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Waits until the server (with <see cref="AlsoCount"/>) uses less than a tenth of one core over 250 ms, or
    /// <paramref name="atMost"/> has passed.
    /// </summary>
    public async Task WaitQuietAsync(TimeSpan atMost)
    {
        var window = TimeSpan.FromMilliseconds(250);
        var deadline = DateTime.UtcNow + atMost;
        var before = CpuMicroseconds();
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(window);
            var now = CpuMicroseconds();
            if (now - before < window.TotalMicroseconds / 10)
            {
                return;
            }
            before = now;
        }
    }

    /// <summary>Resident memory of the server process, in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kb * 1024;
            }
        }
        return 0;
    }

    public void EnsureRunning()
    {
        if (_process.HasExited)
        {
            throw new BenchException($"{Name} exited (code {_process.ExitCode}). Its standard error:\n{StderrTail()}");
        }
    }

    private async Task WaitHealthyAsync(TimeSpan timeout)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            EnsureRunning();
            try
            {
                using var response = await client.GetAsync($"{BaseUrl}/healthz");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new BenchException($"{Name} did not answer /healthz within {timeout.TotalSeconds} s. Its standard error:\n{StderrTail()}");
    }

    private string StderrTail()
    {
        try
        {
            var lines = File.ReadAllLines(_stderrFile);
            return string.Join('\n', lines.TakeLast(30));
        }
        catch (IOException)
        {
            return "(no standard error file)";
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    private static long ClockTicks()
    {
        try
        {
            var info = new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true, UseShellExecute = false };
            using var p = Process.Start(info)!;
            var text = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return long.TryParse(text, CultureInfo.InvariantCulture, out var ticks) && ticks > 0 ? ticks : 100;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 100;
        }
    }
}

public sealed class BenchException(string message) : Exception(message);
