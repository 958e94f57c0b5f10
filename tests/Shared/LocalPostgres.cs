using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace QueryStatus.Shared;

/// <summary>
/// Throwaway PostgreSQL servers on this machine, for the tests (tests/.../Infrastructure/PostgresServer.cs) and the
/// benchmark (bench/.../PostgresCluster.cs), which link this one file: where the binaries are, how a server process is
/// started (as <c>postgres</c> under root: PostgreSQL refuses to run as root) and watched, and when it is up.
/// </summary>
internal static class LocalPostgres
{
    /// <summary>Whether servers run as the <c>postgres</c> user the Debian package creates (this process is root).</summary>
    public static bool RunsAsPostgres => Environment.UserName == "root";

    /// <summary>
    /// The folder of <c>initdb</c>, <c>postgres</c> and <c>pg_ctl</c>: <c>QS_POSTGRES_BIN</c>, else Debian's newest
    /// <c>/usr/lib/postgresql/N/bin</c>; an <see cref="InvalidOperationException"/> saying how to install them otherwise.
    /// </summary>
    public static string FindBinaries()
    {
        if (Environment.GetEnvironmentVariable("QS_POSTGRES_BIN") is { Length: > 0 } configured)
        {
            return configured;
        }
        const string root = "/usr/lib/postgresql";
        var newest = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : -1))
                .Where(d => d.Version >= 0 && File.Exists(Path.Combine(d.Dir, "bin", "postgres")))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Dir, "bin"))
                .FirstOrDefault()
            : null;
        return newest ?? throw new InvalidOperationException(
            "PostgreSQL's server binaries were not found in /usr/lib/postgresql/N/bin: install the 'postgresql' package " +
            "(.ci/run does), or set QS_POSTGRES_BIN to the folder holding initdb and postgres.");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Creates <paramref name="folder"/> for a cluster, owned by the user the server will run as.</summary>
    public static async Task CreateFolderAsync(string folder)
    {
        Directory.CreateDirectory(folder);
        if (RunsAsPostgres)
        {
            await RunAsync("chown", ["postgres:postgres", folder], asPostgres: false);
        }
    }

    /// <summary>
    /// Starts <c>postgres</c> on <paramref name="arguments"/> under a shell loop that stops it (fast shutdown) when this
    /// process is gone or the server ends on its own, then runs <paramref name="afterwards"/> (e.g. deleting the
    /// cluster): a test host or bench that is killed leaves nothing running. Returns the loop's process and a task that
    /// completes with true once the server says it accepts connections (false if its log ends first); the log is copied
    /// to <c>server.log</c> in <paramref name="folder"/> (appended: a server started again logs after what it logged).
    /// </summary>
    public static (Process Process, Task<bool> Ready) StartServer(string bin, string folder, IReadOnlyList<string> arguments, string afterwards)
    {
        var script = $"\"$0\" \"$@\" & pg=$!; while [ -d /proc/{Environment.ProcessId} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; " +
                     $"kill -INT $pg 2>/dev/null; wait $pg; {afterwards}";
        var process = Start("bash", ["-c", script, Path.Combine(bin, "postgres"), .. arguments], RunsAsPostgres);
        return (process, FollowLogAsync(process, folder));
    }

    /// <summary>Runs a tool to its end; an <see cref="InvalidOperationException"/> with its output when it fails.</summary>
    public static async Task RunAsync(string file, IReadOnlyList<string> arguments, bool asPostgres)
    {
        using var process = Start(file, arguments, asPostgres);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} exited with {process.ExitCode}: {await error}{await output}");
        }
    }

    private static Process Start(string file, IReadOnlyList<string> arguments, bool asPostgres)
    {
        var info = new ProcessStartInfo(asPostgres ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
        {
            foreach (var argument in (string[])["-u", "postgres", "--", file])
            {
                info.ArgumentList.Add(argument);
            }
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
    }

    /// <summary>Copies the server's log (nothing may block on a full pipe); true once it accepts connections.</summary>
    private static Task<bool> FollowLogAsync(Process server, string folder)
    {
        _ = server.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        var ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            await using var log = new StreamWriter(Path.Combine(folder, "server.log"), append: true) { AutoFlush = true };
            while (await server.StandardError.ReadLineAsync() is { } line)
            {
                await log.WriteLineAsync(line);
                if (line.Contains("database system is ready to accept connections", StringComparison.Ordinal))
                {
                    ready.TrySetResult(true);
                }
            }
            ready.TrySetResult(false);
        });
        return ready.Task;
    }
}
