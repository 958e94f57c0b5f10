using System.Diagnostics;
using System.Globalization;
using Npgsql;
using QueryStatus.Shared;

namespace QueryStatus.Bench;

/// <summary>
/// The throwaway PostgreSQL cluster of <c>--store postgres</c>: initdb into a temporary folder, the server on
/// 127.0.0.1 only (no Unix socket), on a free port, as the <c>postgres</c> OS user when we run as root (PostgreSQL
/// refuses root), and removed afterwards. Durability stays at PostgreSQL's defaults (fsync, synchronous_commit,
/// full_page_writes on), as in production; <c>--pg-setting</c> changes any setting for an experiment. Besides the
/// address and port, the cluster sets only <c>shared_preload_libraries=pg_stat_statements</c> (to count the statements
/// a request sends) and <c>max_connections=300</c> (the service's connection pool may open 100).
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    public const string Superuser = "bench";

    private readonly string _bin;
    private readonly string _folder;
    private readonly bool _asPostgres;
    private readonly Process _process;

    private PostgresCluster(string bin, string folder, bool asPostgres, Process process, int port, int postmasterPid)
    {
        _bin = bin;
        _folder = folder;
        _asPostgres = asPostgres;
        _process = process;
        Port = port;
        PostmasterPid = postmasterPid;
    }

    public int Port { get; }
    public int PostmasterPid { get; }
    public string DataDirectory => Path.Combine(_folder, "data");

    /// <summary>The settings given on the command line (besides the address and port), for the report.</summary>
    public IReadOnlyList<string> Settings { get; private set; } = [];

    public string ConnectionString(string database, int maxPoolSize = 100) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = Superuser,
            Database = database,
            MaxPoolSize = maxPoolSize,
        }.ConnectionString;

    public static async Task<PostgresCluster> StartAsync(IReadOnlyList<string> extraSettings, Action<string> log)
    {
        string bin;
        try
        {
            bin = LocalPostgres.FindBinaries();
        }
        catch (InvalidOperationException e)
        {
            throw new BenchException($"--store postgres: {e.Message}");
        }
        var folder = Path.Combine(Path.GetTempPath(), $"querystatus-bench-pg-{Guid.NewGuid():N}");
        var data = Path.Combine(folder, "data");
        await LocalPostgres.CreateFolderAsync(folder);
        var asRoot = LocalPostgres.RunsAsPostgres;
        // Loopback only, trust: nothing but this machine can reach it, and it lives as long as the run.
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--no-locale"], asRoot);

        var port = LocalPostgres.FreePort();
        List<string> settings =
        [
            "shared_preload_libraries=pg_stat_statements", "max_connections=300",
            .. extraSettings,
        ];
        List<string> arguments = ["-D", data, "-c", "listen_addresses=127.0.0.1", "-c", $"port={port}", "-c", "unix_socket_directories="];
        foreach (var setting in settings)
        {
            arguments.AddRange(["-c", setting]);
        }
        // Once the server is gone, the cluster is deleted: a bench that is killed leaves nothing running and nothing on disk.
        var (process, ready) = LocalPostgres.StartServer(bin, folder, arguments, $"rm -rf '{folder}'");
        if (!await ready.WaitAsync(TimeSpan.FromSeconds(60)))
        {
            throw new BenchException($"PostgreSQL stopped before it accepted connections. Its log:\n{Tail(Path.Combine(folder, "server.log"))}");
        }
        var postmasterPid = int.Parse(File.ReadLines(Path.Combine(data, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        var cluster = new PostgresCluster(bin, folder, asRoot, process, port, postmasterPid) { Settings = settings };
        log($"PostgreSQL {Path.GetFileName(Path.GetDirectoryName(bin))} pid {postmasterPid} on 127.0.0.1:{port}, data in {data} " +
            $"(as {(asRoot ? "user postgres" : Environment.UserName)}); settings: {string.Join(", ", settings)}");

        await using (var connection = new NpgsqlConnection(cluster.ConnectionString("postgres", 1)))
        {
            await connection.OpenAsync();
            await ExecuteAsync(connection, "CREATE EXTENSION pg_stat_statements");
        }
        return cluster;
    }

    /// <summary>A new, empty database; its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres", 1)))
        {
            await connection.OpenAsync();
            await ExecuteAsync(connection, $"CREATE DATABASE {name}");
        }
        return ConnectionString(name);
    }

    /// <summary>
    /// A checkpoint before each timed write, so that no write pays for the dirty pages of the one before it (with
    /// PostgreSQL's default max_wal_size a 1,000,000-row load does not reach a checkpoint of its own).
    /// </summary>
    public async Task CheckpointAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres", 1));
        await connection.OpenAsync();
        await ExecuteAsync(connection, "CHECKPOINT");
    }

    /// <summary>
    /// <c>VACUUM (ANALYZE)</c> of <paramref name="database"/>, then a <c>CHECKPOINT</c>: the work that autovacuum and the
    /// checkpointer owe a bulk load would otherwise run beside the first scenarios after it, and be counted as their
    /// PostgreSQL CPU (autovacuum vacuumed and analysed <c>row_chunks</c> and its TOAST table in the middle of the status
    /// poll's slices; bench/RESULTS.md, twentieth session). pgbench vacuums before it measures for the same reason.
    /// </summary>
    public async Task<TimeSpan> SettleAsync(string database)
    {
        var started = Stopwatch.GetTimestamp();
        await using (var connection = new NpgsqlConnection(ConnectionString(database, 1)))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("VACUUM (ANALYZE)", connection) { CommandTimeout = 0 };
            await command.ExecuteNonQueryAsync();
        }
        await CheckpointAsync();
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Where the cluster's WAL ends now, in bytes from its start: the difference of two readings is the WAL written between them.</summary>
    public async Task<long> WalPositionAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres", 1));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// CPU time of the whole server, in microseconds: the postmaster, every live backend and background process (its
    /// children), and the children that have ended (the postmaster's cutime + cstime).
    /// </summary>
    public long CpuMicroseconds()
    {
        var (own, reaped) = Server.ProcessCpu(PostmasterPid);
        var total = own + reaped;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && pid != PostmasterPid && Server.ParentPid(pid) == PostmasterPid)
            {
                try
                {
                    total += Server.ProcessCpu(pid).Own;
                }
                catch (IOException)
                {
                    // Ended since it was listed: its time is in the postmaster's cutime on the next reading.
                }
            }
        }
        return total;
    }

    /// <summary>Every setting not at its built-in default (configuration file, command line, initdb), for the report.</summary>
    public async Task<List<(string Name, string Setting, string Source)>> NonDefaultSettingsAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres", 1));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT name, setting || coalesce(' ' || unit, ''), source FROM pg_settings
            WHERE (source NOT IN ('default', 'override', 'client') AND name NOT IN ('port', 'listen_addresses', 'unix_socket_directories'))
               OR name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout')
            ORDER BY name
            """, connection);
        var settings = new List<(string, string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            settings.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }
        return settings;
    }

    /// <summary>Where to copy the server's log when the cluster is removed (null: nowhere).</summary>
    public string? KeepLogAs { get; set; }

    public async ValueTask DisposeAsync()
    {
        // Before the stop: the watch loop removes the folder once the server is gone.
        if (KeepLogAs is not null && File.Exists(Path.Combine(_folder, "server.log")))
        {
            File.Copy(Path.Combine(_folder, "server.log"), KeepLogAs, overwrite: true);
        }
        if (!_process.HasExited)
        {
            try
            {
                await RunAsync(Path.Combine(_bin, "pg_ctl"), ["stop", "-D", DataDirectory, "-m", "fast", "-w"], _asPostgres);
            }
            catch (BenchException)
            {
                // Already stopping or gone: the watch loop still ends, and removes the folder.
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
        }
        _process.Dispose();
    }

    private static string Tail(string file)
    {
        try
        {
            return string.Join('\n', File.ReadAllLines(file).TakeLast(30));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    /// <summary>The shared runner (<see cref="LocalPostgres.RunAsync"/>), its failure as the bench reports failures.</summary>
    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, bool asPostgres = false)
    {
        try
        {
            await LocalPostgres.RunAsync(file, arguments, asPostgres);
        }
        catch (InvalidOperationException e)
        {
            throw new BenchException(e.Message);
        }
    }
}
