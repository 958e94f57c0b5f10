using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;

namespace QueryStatus.Bench;

/// <summary>Rows moved in some time, with the CPU it cost (the server's with its database's, or the database's alone).</summary>
public sealed record Throughput(string Label, long Rows, TimeSpan Elapsed, long CpuUs, long DatabaseCpuUs)
{
    public double RowsPerSecond => Rows / Elapsed.TotalSeconds;
    public double CpuUsPerRow => (double)CpuUs / Rows;
    public double DatabaseCpuUsPerRow => (double)DatabaseCpuUs / Rows;

    /// <summary>The share of the service's own CPU that its runtime spent recompiling methods (0 for COPY: no service).</summary>
    public double JitShare { get; init; }

    public static Throughput Of(IngestResult ingest, string label) =>
        new(label, ingest.Rows, ingest.Elapsed, ingest.ServerCpuUs, ingest.DatabaseCpuUs) { JitShare = ingest.JitShare };
}

/// <summary>
/// One line of pg_stat_statements: calls, how many of them were planned, planning time per call (0 unless tracked; a
/// prepared statement is not planned on every call), mean execution time, total time.
/// </summary>
public sealed record Statement(string Query, long Calls, long Plans, double MeanPlanMs, double MeanExecMs, double TotalMs);

/// <summary>
/// What one status request cost in the database: statements, client → server TCP flights (round trips), and CPU of the
/// service and of PostgreSQL per request.
/// </summary>
public sealed record PollCost(
    string Name, long Polls, List<Statement> Statements, long SegmentsToServer, long SegmentsFromServer, long ServiceCpuUs, long DatabaseCpuUs)
{
    public double StatementsPerPoll => (double)Statements.Sum(s => s.Calls) / Polls;
    public double RoundTripsPerPoll => (double)SegmentsToServer / Polls;

    /// <summary>The service's connections to PostgreSQL opened and closed while the polls ran.</summary>
    public int ConnectionsOpened { get; init; }
    public int ConnectionsClosed { get; init; }
}

/// <summary>
/// PostgreSQL's own speed, the reference of the PostgreSQL store's write and read figures: one client COPYing the
/// benchmark's rows (<see cref="ApiClient.WriteRow"/>, the same 86-byte JSON rows the workers send) into a table with one
/// <c>bytea</c> column, binary COPY, and reading them back with <c>COPY (SELECT …) TO STDOUT</c>; and what a status poll
/// costs in the database, counted by pg_stat_statements and by the TCP segments of the service's connections.
/// </summary>
public sealed partial class PostgresReference(PostgresCluster cluster, string copyConnectionString, string storeDatabase)
{
    public const string Table = "copy_rows";

    public static async Task<PostgresReference> CreateAsync(PostgresCluster cluster, string storeDatabase)
    {
        var connectionString = await cluster.CreateDatabaseAsync("copybench");
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await PostgresCluster.ExecuteAsync(connection, $"CREATE TABLE {Table} (row bytea NOT NULL)");
        return new PostgresReference(cluster, connectionString, storeDatabase);
    }

    /// <summary>Empties the table and checkpoints (not timed), then COPYs rows [0, <paramref name="rows"/>) into it from one connection.</summary>
    public async Task<Throughput> CopyInAsync(long rows, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(copyConnectionString);
        await connection.OpenAsync(cancellationToken);
        await PostgresCluster.ExecuteAsync(connection, $"TRUNCATE {Table}");
        await cluster.CheckpointAsync();

        var buffer = new ArrayBufferWriter<byte>(256);
        var cpuBefore = cluster.CpuMicroseconds();
        var clock = Stopwatch.StartNew();
        await using (var copy = await connection.BeginBinaryImportAsync($"COPY {Table} (row) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (long i = 0; i < rows; i++)
            {
                buffer.ResetWrittenCount();
                ApiClient.WriteRow(buffer, i);
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(buffer.WrittenMemory, NpgsqlDbType.Bytea, cancellationToken);
            }
            await copy.CompleteAsync(cancellationToken);
        }
        clock.Stop();
        var cpu = cluster.CpuMicroseconds() - cpuBefore;
        return new Throughput("COPY FROM STDIN", rows, clock.Elapsed, cpu, cpu);
    }

    /// <summary><c>COPY (SELECT row FROM copy_rows) TO STDOUT (FORMAT BINARY)</c>, every row read as a byte array.</summary>
    public async Task<Throughput> CopyOutAsync(long expectedRows, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(copyConnectionString);
        await connection.OpenAsync(cancellationToken);
        var cpuBefore = cluster.CpuMicroseconds();
        var clock = Stopwatch.StartNew();
        long rows = 0;
        await using (var copy = await connection.BeginBinaryExportAsync($"COPY (SELECT row FROM {Table}) TO STDOUT (FORMAT BINARY)", cancellationToken))
        {
            while (await copy.StartRowAsync(cancellationToken) != -1)
            {
                _ = await copy.ReadAsync<byte[]>(NpgsqlDbType.Bytea, cancellationToken);
                rows++;
            }
        }
        clock.Stop();
        if (rows != expectedRows)
        {
            throw new BenchException($"COPY TO STDOUT read {rows:N0} rows, {expectedRows:N0} expected");
        }
        var cpu = cluster.CpuMicroseconds() - cpuBefore;
        return new Throughput("COPY TO STDOUT", rows, clock.Elapsed, cpu, cpu);
    }

    /// <summary>
    /// The store's own chunks of a result (<c>row_chunks</c>, in row order) by <c>COPY (SELECT bytes …) TO STDOUT</c>: what
    /// PostgreSQL sends when it need not cut anything out, for comparison (no target).
    /// </summary>
    public async Task<Throughput> CopyOutStoredChunksAsync(string licenseId, string scheduleId, long expectedRows, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString(storeDatabase, 1));
        await connection.OpenAsync(cancellationToken);
        var cpuBefore = cluster.CpuMicroseconds();
        var clock = Stopwatch.StartNew();
        long rows = 0;
        var sql = "COPY (SELECT c.row_count, c.bytes FROM row_chunks c JOIN runs r ON r.run_id = c.run_id " +
                  $"WHERE r.license_id = '{licenseId}' AND r.schedule_id = '{scheduleId}' AND c.first_row IS NOT NULL ORDER BY c.first_row) " +
                  "TO STDOUT (FORMAT BINARY)";
        await using (var copy = await connection.BeginBinaryExportAsync(sql, cancellationToken))
        {
            while (await copy.StartRowAsync(cancellationToken) != -1)
            {
                rows += await copy.ReadAsync<int>(NpgsqlDbType.Integer, cancellationToken);
                _ = await copy.ReadAsync<byte[]>(NpgsqlDbType.Bytea, cancellationToken);
            }
        }
        clock.Stop();
        if (rows != expectedRows)
        {
            throw new BenchException($"COPY of the stored chunks of {scheduleId} read {rows:N0} rows, {expectedRows:N0} expected");
        }
        var cpu = cluster.CpuMicroseconds() - cpuBefore;
        return new Throughput("COPY TO STDOUT of the store's chunks", rows, clock.Elapsed, cpu, cpu);
    }

    /// <summary>
    /// Sends <paramref name="polls"/> GETs of <paramref name="url"/> (<paramref name="concurrency"/> loops) and counts what
    /// they cost in the database: statements executed in the store's database (pg_stat_statements, reset first, with
    /// planning time tracked for the occasion), TCP data segments sent by the service's own connections to PostgreSQL
    /// (<c>ss -ti</c>: one per request flight, so the round trips) and received on them, and the CPU of each side.
    /// </summary>
    public async Task<PollCost> PollCostAsync(
        string name, Server service, HttpClient http, string url, IReadOnlyList<string> headers, int polls, int concurrency,
        CancellationToken cancellationToken)
    {
        // Warm: every connection the loops need is open before counting.
        await SendAsync(http, url, headers, concurrency * 4, concurrency, cancellationToken);
        await TrackPlanningAsync(true);
        try
        {
            await ResetStatementsAsync();
            // The service's pool opens and closes connections as it likes (it prunes idle ones): the sockets are read every
            // 100 ms and each keeps the last count seen, so that one closed during the polls still counts what it carried
            // (the pool closes only idle connections). A socket first seen during the polls counts from zero.
            var before = Segments(service.Pid);
            var last = new Dictionary<string, (long Out, long In)>(before);
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    foreach (var (socket, counts) in Segments(service.Pid))
                    {
                        last[socket] = counts;
                    }
                    await Task.Delay(100, CancellationToken.None);
                }
            }, CancellationToken.None);
            var cpuBefore = service.CpuSplit();
            await SendAsync(http, url, headers, polls, concurrency, cancellationToken);
            var cpuAfter = service.CpuSplit();
            await sampling.CancelAsync();
            await sampler;
            foreach (var (socket, counts) in Segments(service.Pid))
            {
                last[socket] = counts;
            }

            long toServer = 0, fromServer = 0;
            foreach (var (socket, (outSegs, inSegs)) in last)
            {
                var (outBefore, inBefore) = before.GetValueOrDefault(socket);
                toServer += outSegs - outBefore;
                fromServer += inSegs - inBefore;
            }
            return new PollCost(name, polls, await StatementsAsync(int.MaxValue), toServer, fromServer,
                cpuAfter.Own - cpuBefore.Own, cpuAfter.Also - cpuBefore.Also)
            {
                ConnectionsOpened = last.Keys.Count(k => !before.ContainsKey(k)),
                ConnectionsClosed = before.Keys.Count(k => !Segments(service.Pid).ContainsKey(k)),
            };
        }
        finally
        {
            await TrackPlanningAsync(false);
        }
    }

    /// <summary>Forgets what pg_stat_statements counted so far.</summary>
    public async Task ResetStatementsAsync()
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString("postgres", 1));
        await connection.OpenAsync();
        await PostgresCluster.ExecuteAsync(connection, "SELECT pg_stat_statements_reset()");
    }

    /// <summary>The statements run in the store's database since the last reset, most time first (at most <paramref name="count"/>).</summary>
    public async Task<List<Statement>> StatementsAsync(int count)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString("postgres", 1));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT regexp_replace(s.query, '\s+', ' ', 'g'), s.calls, s.plans, s.total_plan_time / greatest(s.calls, 1), s.mean_exec_time,
                   s.total_plan_time + s.total_exec_time
            FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
            WHERE d.datname = $1 ORDER BY s.total_plan_time + s.total_exec_time DESC LIMIT $2
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = storeDatabase });
        command.Parameters.Add(new NpgsqlParameter { Value = (long)count });
        var statements = new List<Statement>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            statements.Add(new Statement(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDouble(3), reader.GetDouble(4),
                reader.GetDouble(5)));
        }
        return statements;
    }

    /// <summary>pg_stat_statements.track_planning on or off (off by default: it costs a little on every statement).</summary>
    private async Task TrackPlanningAsync(bool on)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString("postgres", 1));
        await connection.OpenAsync();
        await PostgresCluster.ExecuteAsync(connection, $"ALTER SYSTEM SET pg_stat_statements.track_planning = {(on ? "on" : "off")}");
        await PostgresCluster.ExecuteAsync(connection, "SELECT pg_reload_conf()");
        // Backends read the configuration between statements after the signal; give them a moment.
        await Task.Delay(200);
    }

    private static async Task SendAsync(HttpClient http, string url, IReadOnlyList<string> headers, int polls, int concurrency, CancellationToken cancellationToken)
    {
        var left = polls;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Decrement(ref left) >= 0)
            {
                await ApiClient.GetBodyAsync(http, url, headers, cancellationToken);
            }
        }));
    }

    /// <summary>Data segments out and in of each established TCP connection of process <paramref name="pid"/> to the cluster.</summary>
    private Dictionary<string, (long Out, long In)> Segments(int pid)
    {
        var info = new ProcessStartInfo("ss") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in (string[])["-tinpH", "state", "established", "dport", "=", $":{cluster.Port}"])
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new BenchException("could not start ss");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new BenchException($"ss failed (exit {process.ExitCode}); it counts the service's round trips to PostgreSQL");
        }
        // Each socket: one line with the queues, the addresses and users:(("dotnet",pid=N,fd=M)), then an indented line of TCP
        // info. A socket is known by its two addresses (the queues change from one reading to the next).
        var sockets = new Dictionary<string, (long, long)>();
        string? current = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }
            if (!char.IsWhiteSpace(line[0]))
            {
                current = line.Contains($"pid={pid},", StringComparison.Ordinal)
                    ? string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(t => t.Contains(':', StringComparison.Ordinal)
                        && !t.StartsWith("users:", StringComparison.Ordinal)))
                    : null;
            }
            else if (current is not null)
            {
                var outSegs = DataSegsOut().Match(line) is { Success: true } o ? long.Parse(o.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
                var inSegs = DataSegsIn().Match(line) is { Success: true } i ? long.Parse(i.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
                sockets[current] = (outSegs, inSegs);
                current = null;
            }
        }
        return sockets;
    }

    [GeneratedRegex(@"\bdata_segs_out:(\d+)")]
    private static partial Regex DataSegsOut();

    [GeneratedRegex(@"\bdata_segs_in:(\d+)")]
    private static partial Regex DataSegsIn();
}
