using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace QueryStatus.Bench;

/// <summary>What one wrk run measured, plus the server's CPU time over the same interval.</summary>
public sealed record Slice(
    string Label,
    double RequestsPerSecond,
    long Requests,
    double P50Ms,
    double P99Ms,
    double ServerCpuUsPerRequest,
    long Non2xx,
    string SocketErrors)
{
    /// <summary>The part of <see cref="ServerCpuUsPerRequest"/> spent by the server's database (<see cref="Server.AlsoCount"/>).</summary>
    public double DatabaseCpuUsPerRequest { get; init; }

    /// <summary>The share of the service's own CPU (without its database's) its runtime spent recompiling methods (<see cref="Server.CpuUse.JitShare"/>).</summary>
    public double JitShare { get; init; }
}

/// <summary>Runs wrk (<c>-t2 --latency</c>) against one URL and reads its report.</summary>
public static partial class Wrk
{
    public static void EnsureInstalled()
    {
        if (Which("wrk") is not null)
        {
            return;
        }
        Console.WriteLine("wrk not found: installing the Debian package (apt-get install -y wrk) ...");
        Run("apt-get", "update -qq");
        Run("apt-get", "install -y -qq wrk");
        if (Which("wrk") is null)
        {
            throw new BenchException("wrk is not installed and apt-get could not install it; install it (apt-get install wrk) and retry.");
        }
    }

    /// <summary>Loads <paramref name="url"/> for <paramref name="seconds"/> and returns the figures, server CPU included.</summary>
    public static async Task<Slice> RunAsync(
        string label, Server server, string url, IReadOnlyList<string> headers, int seconds, int connections, int threads = 2)
    {
        server.EnsureRunning();
        var info = new ProcessStartInfo("wrk")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { $"-t{threads}", $"-c{connections}", $"-d{seconds}s", "--latency", "--timeout", "10s" })
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var header in headers)
        {
            info.ArgumentList.Add("-H");
            info.ArgumentList.Add(header);
        }
        info.ArgumentList.Add(url);

        var mark = server.Mark();
        using var process = Process.Start(info) ?? throw new BenchException("could not start wrk");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // Bounded: wrk stops itself after -d; a hung wrk is killed well after that.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new BenchException($"wrk did not finish within {seconds + 30} s ({label}).");
        }
        var used = server.Since(mark);
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new BenchException($"wrk failed ({label}, exit {process.ExitCode}):\n{output}\n{await stderr}");
        }
        var slice = Parse(label, output, used.TotalUs);
        return slice with
        {
            DatabaseCpuUsPerRequest = slice.Requests > 0 ? (double)used.DatabaseUs / slice.Requests : double.NaN,
            JitShare = used.JitShare,
        };
    }

    public static Slice Parse(string label, string output, long serverCpuUs)
    {
        var rps = double.Parse(Match(RequestsPerSecondRegex(), output, label, "Requests/sec"), CultureInfo.InvariantCulture);
        var requests = long.Parse(Match(RequestsRegex(), output, label, "N requests in"), CultureInfo.InvariantCulture);
        var p50 = Latency(output, "50%", label);
        var p99 = Latency(output, "99%", label);
        var non2xx = Non2xxRegex().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var socket = SocketErrorsRegex().Match(output) is { Success: true } s ? s.Groups[1].Value.Trim() : "";
        var cpuPerRequest = requests > 0 ? (double)serverCpuUs / requests : double.NaN;
        return new Slice(label, rps, requests, p50, p99, cpuPerRequest, non2xx, socket);
    }

    private static double Latency(string output, string percentile, string label)
    {
        var match = Regex.Match(output, @"^\s*" + Regex.Escape(percentile) + @"\s+([0-9.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline);
        if (!match.Success)
        {
            throw new BenchException($"wrk printed no {percentile} latency ({label}):\n{output}");
        }
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "us" => value / 1000,
            "ms" => value,
            "s" => value * 1000,
            _ => value * 60_000,
        };
    }

    private static string Match(Regex regex, string output, string label, string what) =>
        regex.Match(output) is { Success: true } m
            ? m.Groups[1].Value
            : throw new BenchException($"wrk printed no '{what}' ({label}):\n{output}");

    private static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private static void Run(string program, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { UseShellExecute = false })
            ?? throw new BenchException($"could not start {program}");
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
        }
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RequestsPerSecondRegex();

    [GeneratedRegex(@"^\s*([0-9]+) requests in", RegexOptions.Multiline)]
    private static partial Regex RequestsRegex();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+([0-9]+)")]
    private static partial Regex Non2xxRegex();

    [GeneratedRegex(@"Socket errors:(.*)$", RegexOptions.Multiline)]
    private static partial Regex SocketErrorsRegex();
}
