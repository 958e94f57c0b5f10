using System.Diagnostics;
using Npgsql;
using QueryStatus.Shared;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server for the tests: a fresh cluster in a temporary folder (initdb), listening on
/// 127.0.0.1 only, on a free port, started once per test run and gone with it. Each test takes a database of its
/// own (<see cref="CreateDatabaseAsync"/>), so no test sees another's data.
/// </summary>
/// <remarks>
/// Uses Debian's server binaries (<c>/usr/lib/postgresql/N/bin</c>, newest N; <c>QS_POSTGRES_BIN</c> names another
/// folder); <c>.ci/run</c> installs the <c>postgresql</c> package when they are missing. PostgreSQL refuses to run as
/// root, so under root the cluster belongs to the <c>postgres</c> user the package creates. The server is a child of a
/// small shell loop that stops it when this test process is gone, however the process ends. Durability settings are
/// off (fsync, synchronous commit): the tests check what the store does, not the disk.
/// <para>
/// A test that stops the database (an outage) must not stop the shared server, which other tests use at the same time:
/// it starts a private cluster of its own (<see cref="StartPrivateAsync"/>), with its own folder and port, which it
/// can <see cref="StopAsync"/> and <see cref="StartAsync()"/> again (same port, data kept) and which is removed when
/// disposed.
/// </para>
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly Lazy<Task<PostgresServer>> Shared = new(() => CreateAsync(isPrivate: false));

    private readonly string _bin;
    private readonly string _folder;
    private readonly bool _asPostgres;
    private readonly bool _private;
    private readonly SemaphoreSlim _running = new(1, 1);
    private Process? _process;

    private PostgresServer(string bin, string folder, bool asPostgres, bool isPrivate, int port)
    {
        _bin = bin;
        _folder = folder;
        _asPostgres = asPostgres;
        _private = isPrivate;
        Port = port;
        // Unpooled: a private server's port may be handed out again once it is gone, and a pooled connection to the old
        // server on the same host and port (same connection string) would answer the new one's first command with the
        // old server's shutdown error (57P01). Admin connections are one-offs (a CREATE DATABASE per test).
        AdminConnectionString = new NpgsqlConnectionStringBuilder(Connection(port, "postgres")) { Pooling = false }.ConnectionString;
    }

    public int Port { get; }

    /// <summary>The cluster's superuser on its <c>postgres</c> database.</summary>
    public string AdminConnectionString { get; }

    /// <summary>The server of this test run, started on first use.</summary>
    public static Task<PostgresServer> GetAsync() => Shared.Value;

    /// <summary>
    /// A server of the caller's own, started: a cluster in its own folder on its own port, which the caller may stop and
    /// start again (<see cref="StopAsync"/>, <see cref="StartAsync()"/>) without touching the shared server; disposing it
    /// stops it and removes the cluster.
    /// </summary>
    public static Task<PostgresServer> StartPrivateAsync() => CreateAsync(isPrivate: true);

    /// <summary>A new, empty database on the shared server; its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync() => await (await GetAsync()).NewDatabaseAsync();

    /// <summary>A new, empty database on this server; its connection string.</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = "qs_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return Connection(Port, name);
    }

    /// <summary>Whether the server runs (between a start and a stop).</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>
    /// Stops a private server as an operator would (fast shutdown: open sessions are ended, clients see their
    /// connections break) and returns once it is gone; its data stays for <see cref="StartAsync()"/>.
    /// </summary>
    public async Task StopAsync()
    {
        if (!_private)
        {
            throw new InvalidOperationException("The shared test server serves every test at once: start a private one to stop it.");
        }
        await _running.WaitAsync();
        try
        {
            await StopProcessAsync("fast");
        }
        finally
        {
            _running.Release();
        }
    }

    /// <summary>Starts a stopped private server again on the same port and data; returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        if (!_private)
        {
            throw new InvalidOperationException("The shared test server is started once, by GetAsync.");
        }
        await _running.WaitAsync();
        try
        {
            if (!IsRunning)
            {
                await LaunchAsync();
            }
        }
        finally
        {
            _running.Release();
        }
    }

    private static string Connection(int port, string database) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = "qs",
            Database = database,
            // Tests open many short-lived data sources; keep each one's pool small.
            MaxPoolSize = 20,
        }.ConnectionString;

    private static async Task<PostgresServer> CreateAsync(bool isPrivate)
    {
        var bin = LocalPostgres.FindBinaries();
        var folder = Path.Combine(Path.GetTempPath(), $"qs-pg-{Guid.NewGuid():N}");
        var data = Path.Combine(folder, "data");
        await LocalPostgres.CreateFolderAsync(folder);
        await LocalPostgres.RunAsync(Path.Combine(bin, "initdb"),
            ["-D", data, "-U", "qs", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"], LocalPostgres.RunsAsPostgres);

        var server = new PostgresServer(bin, folder, LocalPostgres.RunsAsPostgres, isPrivate, LocalPostgres.FreePort());
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        await server.LaunchAsync();
        return server;
    }

    /// <summary>Starts the server process on <see cref="Port"/> and returns once it says it accepts connections.</summary>
    private async Task LaunchAsync()
    {
        var data = Path.Combine(_folder, "data");
        string[] settings =
        [
            "-c", "listen_addresses=127.0.0.1", "-c", $"port={Port}", "-c", "unix_socket_directories=",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300",
        ];
        // Once the server is gone, its cluster is deleted: a test host that is killed leaves nothing on disk. A private
        // server keeps its cluster while this process lives, so that a test can stop it and start it again.
        var remove = _private ? $"[ -d /proc/{Environment.ProcessId} ] || rm -rf '{_folder}'" : $"rm -rf '{_folder}'";
        var (process, ready) = LocalPostgres.StartServer(_bin, _folder, ["-D", data, .. settings], remove);
        _process = process;

        // The server's own word that it is up, not connection attempts in a loop; the guard only keeps a broken
        // installation from hanging the run.
        if (!await ready.WaitAsync(TimeSpan.FromSeconds(60)))
        {
            throw new InvalidOperationException(
                $"The test PostgreSQL server stopped before it accepted connections (log: {Path.Combine(_folder, "server.log")}).");
        }
    }

    /// <summary>Stops the server process (pg_ctl's <paramref name="mode"/>) and waits until its watch loop has ended.</summary>
    private async Task StopProcessAsync(string mode)
    {
        if (_process is not { } process || process.HasExited)
        {
            return;
        }
        // pg_ctl stops the postmaster and all its children; the watch loop then ends.
        try
        {
            await LocalPostgres.RunAsync(Path.Combine(_bin, "pg_ctl"), ["stop", "-D", Path.Combine(_folder, "data"), "-m", mode, "-w"], _asPostgres);
        }
        catch (InvalidOperationException)
        {
            // Already stopping or gone: the loop below still waits for the process.
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        // An immediate shutdown: nothing of a disposed server needs to be kept.
        await StopProcessAsync("immediate");
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the folder is in the temporary directory.
        }
    }
}
