using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>The schema scripts against a real PostgreSQL server: applied once, however many instances start at once.</summary>
public sealed class MigrationTests
{
    [Fact]
    public async Task AnEmptyDatabaseGetsEveryScriptAndTheStoresTables()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync());

        var applied = await PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None);

        Assert.Equal(PostgresMigrator.Scripts, applied);
        Assert.NotEmpty(applied);
        var tables = await ListAsync(dataSource, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
        Assert.Equal(["batches", "licenses", "row_chunks", "run_rows", "runs", PostgresMigrator.JournalTable, "tasks"], tables);
    }

    [Fact]
    public async Task EveryChunkOfARunIsInAnIndexLedByTheRun()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync());
        await PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None);

        // Not partial: removing or failing a run deletes its chunks by run, and the sweeper finds expired ones by run.
        var indexes = await ListAsync(dataSource, "SELECT indexdef FROM pg_indexes WHERE tablename = 'row_chunks' ORDER BY indexname");
        Assert.Contains(indexes, definition =>
            definition.EndsWith("(run_id, first_row)", StringComparison.Ordinal) && !definition.Contains(" WHERE ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChunksAreStoredCompressedWithLz4AndReadBackAsWritten()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync());
        await PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None);
        var rows = string.Join(",", Enumerable.Range(0, 700).Select(i => $$"""{"date":"2026-11-01","campaign":"Campaign {{i:D9}}","clicks":{{i}}}"""));
        var bytes = System.Text.Encoding.UTF8.GetBytes(rows);

        await using var command = dataSource.CreateCommand(
            """
            WITH l AS (INSERT INTO licenses (license_id) VALUES ('L') RETURNING license_id),
                 r AS (INSERT INTO runs (license_id, schedule_id, status) SELECT license_id, 's', 'RUNNING' FROM l RETURNING run_id)
            INSERT INTO row_chunks (run_id, task_id, attempt, batch, seq, row_count, bytes, offsets)
            SELECT run_id, 't_1', 1, 0, 0, 700, $1, '{0}' FROM r
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = bytes });
        await command.ExecuteNonQueryAsync();

        var stored = await ListAsync(dataSource, "SELECT coalesce(pg_column_compression(bytes), 'none') FROM row_chunks");
        Assert.Equal(["lz4"], stored);
        await using var read = dataSource.CreateCommand("SELECT bytes FROM row_chunks");
        Assert.Equal(bytes, (byte[])(await read.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task MigratingAnUpToDateDatabaseAppliesNothing()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync());
        await PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None);

        var again = await PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None);

        Assert.Empty(again);
        Assert.Equal(PostgresMigrator.Scripts.Count, await CountJournalAsync(dataSource));
    }

    [Fact]
    public async Task InstancesStartingTogetherApplyEachScriptOnce()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync();
        // Each "instance" with its own data source, as separate processes would have.
        var sources = Enumerable.Range(0, 6).Select(_ => NpgsqlDataSource.Create(connectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(sources.Select(source =>
                Task.Run(() => PostgresMigrator.MigrateAsync(source, NullLogger.Instance, CancellationToken.None))));

            Assert.Equal(PostgresMigrator.Scripts, results.SelectMany(applied => applied).Order(StringComparer.Ordinal));
            Assert.Single(results, applied => applied.Count > 0);
            Assert.Equal(PostgresMigrator.Scripts.Count, await CountJournalAsync(sources[0]));
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AnUnreachableDatabaseIsReportedAsTheStoreBeingUnavailable()
    {
        var server = await PostgresServer.GetAsync();
        var builder = new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = "qs_no_such_database", Timeout = 5 };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);

        await Assert.ThrowsAsync<QueryStatus.Api.Store.StoreUnavailableException>(
            () => PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None));
    }

    private static async Task<long> CountJournalAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {PostgresMigrator.JournalTable}");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<List<string>> ListAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }
}
