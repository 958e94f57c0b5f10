using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using QueryStatus.Api.Store;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>Result rows in PostgreSQL chunks: staged by COPY, numbered in sub-query and batch order, read back by page byte for byte.</summary>
public sealed class RowChunksTests
{
    private static ReadOnlyMemory<byte> Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(RowPage page) => string.Concat(page.Segments.Select(s => Encoding.UTF8.GetString(s.Span)));

    [Fact]
    public void RowsArePackedUpToTheChunkSizeAndALongRowGetsAChunkOfItsOwn()
    {
        var rows = new[] { "\"aaaa\"", "\"bb\"", "\"c\"", "\"" + new string('x', 40) + "\"", "1" }.Select(Utf8).ToArray();

        var chunks = Pack(rows, maxChunkBytes: 16);

        Assert.Equal(["\"aaaa\",\"bb\",\"c\"", "\"" + new string('x', 40) + "\"", "1"], chunks.Select(c => c.Text));
        Assert.Equal([0, 7, 12], chunks[0].Offsets);
        Assert.Equal([0, 1, 2], chunks.Select(c => c.Seq));
        Assert.Empty(Pack([], RowChunks.MaxChunkBytes));
    }

    /// <summary>Each chunk as the packer showed it, read before it packs the next one into the same buffer.</summary>
    private static List<(int Seq, string Text, int[] Offsets)> Pack(ReadOnlyMemory<byte>[] rows, int maxChunkBytes)
    {
        var chunks = new List<(int, string, int[])>();
        using var packer = new RowChunks.Packer(rows, maxChunkBytes);
        while (packer.MoveNext())
        {
            chunks.Add((packer.Seq, Encoding.UTF8.GetString(packer.Bytes.Span), packer.Offsets));
        }
        return chunks;
    }

    [Fact]
    public async Task RowsComeBackInSubQueryThenBatchOrderFromTheCompletingAttemptOnly()
    {
        await using var db = await Database.CreateAsync();
        var runId = await db.RunAsync(("t0", 0, 2), ("t1", 1, 1));
        string T(string task, int batch, int i) => $$"""{"t":"{{task}}","b":{{batch}},"i":{{i}}}""";
        string[] Rows(string task, int batch, int count) => Enumerable.Range(0, count).Select(i => T(task, batch, i)).ToArray();

        // Arrival order is not result order; attempt 1 of t0 was abandoned (its rows never count).
        await db.WriteAsync(runId, "t1", 1, batch: 0, Rows("t1", 0, 3));
        await db.WriteAsync(runId, "t0", 2, batch: 7, Rows("t0", 7, 2));
        await db.WriteAsync(runId, "t0", 1, batch: 0, Rows("stale", 0, 5));
        await db.WriteAsync(runId, "t0", 2, batch: 2, Rows("t0", 2, 4));

        var total = await RowChunks.NumberAsync(db.Connection, runId, CancellationToken.None);

        string[] expected = [.. Rows("t0", 2, 4), .. Rows("t0", 7, 2), .. Rows("t1", 0, 3)];
        Assert.Equal(expected.Length, total);
        Assert.Equal(string.Join(",", expected), Text(await db.PageAsync(runId, 0, total)));
    }

    [Fact]
    public async Task PagesAnywhereInTenThousandRowsAreTheirRowsByteForByte()
    {
        await using var db = await Database.CreateAsync();
        var runId = await db.RunAsync(("t0", 0, 1));
        // Rows of varying length, non-ASCII included, so that chunk boundaries fall everywhere.
        var rows = Enumerable.Range(0, 10_000).Select(i => $$"""{"n":{{i}},"é":"東京 🚀","pad":"{{new string('p', i % 37)}}"}""").ToArray();
        await db.WriteAsync(runId, "t0", 1, batch: 0, rows[..6_000]);
        await db.WriteAsync(runId, "t0", 1, batch: 1, rows[6_000..]);
        Assert.Equal(10_000, await RowChunks.NumberAsync(db.Connection, runId, CancellationToken.None));

        foreach (var (start, end) in new (int, int)[] { (0, 100), (0, 1), (4_950, 5_050), (5_999, 6_001), (9_900, 10_000), (9_999, 10_000), (0, 10_000) })
        {
            var page = await db.PageAsync(runId, start, end);
            Assert.Equal(string.Join(",", rows[start..end]), Text(page));
            Assert.Equal((start, end), ((int)page.Start, (int)page.End));
            var read = new List<string>();
            foreach (var row in page)
            {
                read.Add(Encoding.UTF8.GetString(row.Span));
            }
            Assert.Equal(rows[start..end], read);
        }
        Assert.Equal("", Text(await db.PageAsync(runId, 10_000, 10_000)));
    }

    [Fact]
    public async Task ARowLargerThanAChunkIsWhole()
    {
        await using var db = await Database.CreateAsync();
        var runId = await db.RunAsync(("t0", 0, 1));
        string[] rows = ["1", "\"" + new string('z', 3 * RowChunks.MaxChunkBytes) + "\"", "3"];
        await db.WriteAsync(runId, "t0", 1, batch: 0, rows);
        await RowChunks.NumberAsync(db.Connection, runId, CancellationToken.None);

        Assert.Equal(string.Join(",", rows), Text(await db.PageAsync(runId, 0, 3)));
        Assert.Equal(rows[1], Text(await db.PageAsync(runId, 1, 2)));
    }

    /// <summary>A migrated database of its own, with one license, and runs and tasks made directly.</summary>
    private sealed class Database : IAsyncDisposable
    {
        private readonly NpgsqlDataSource _source;

        private Database(NpgsqlDataSource source, NpgsqlConnection connection)
        {
            _source = source;
            Connection = connection;
        }

        public NpgsqlConnection Connection { get; }

        public static async Task<Database> CreateAsync()
        {
            var source = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync());
            await PostgresMigrator.MigrateAsync(source, NullLogger.Instance, CancellationToken.None);
            return new Database(source, await source.OpenConnectionAsync());
        }

        /// <summary>A running run with tasks (id, ordinal, the attempt that completes it).</summary>
        public async Task<long> RunAsync(params (string Task, int Ordinal, int Attempt)[] tasks)
        {
            await using var command = new NpgsqlCommand(
                """
                INSERT INTO licenses (license_id) VALUES ('lic') ON CONFLICT DO NOTHING;
                WITH run AS (INSERT INTO runs (license_id, schedule_id, status) VALUES ('lic', 's_' || gen_random_uuid(), 'RUNNING') RETURNING run_id),
                    counter AS (INSERT INTO run_rows (run_id) SELECT run_id FROM run)
                SELECT run_id FROM run;
                """, Connection);
            var runId = (long)(await command.ExecuteScalarAsync())!;
            foreach (var (task, ordinal, attempt) in tasks)
            {
                await using var insert = new NpgsqlCommand(
                    "INSERT INTO tasks (task_id, run_id, license_id, ordinal, payload, state, attempt) VALUES ($1, $2, 'lic', $3, '\\x7b7d', 'DONE', $4)",
                    Connection);
                insert.Parameters.Add(new NpgsqlParameter { Value = task });
                insert.Parameters.Add(new NpgsqlParameter { Value = runId });
                insert.Parameters.Add(new NpgsqlParameter { Value = ordinal });
                insert.Parameters.Add(new NpgsqlParameter { Value = attempt });
                await insert.ExecuteNonQueryAsync();
            }
            return runId;
        }

        public Task<bool> WriteAsync(long runId, string task, int attempt, long batch, string[] rows, long maxHeldRows = long.MaxValue) =>
            RowChunks.WriteAsync(Connection, runId, task, attempt, batch, rows.Select(Utf8).ToArray(), maxHeldRows, CancellationToken.None);

        /// <summary>Rows <c>[start, end)</c> read with the store's page statement and slice reader, without a status around them.</summary>
        public async Task<RowPage> PageAsync(long runId, long start, long end)
        {
            await using var command = new NpgsqlCommand($"SELECT slice, first_row FROM ({RowChunks.PageSlicesSql("$1", "$2", "$3")}) p", Connection);
            command.Parameters.Add(new NpgsqlParameter { Value = runId });
            command.Parameters.Add(new NpgsqlParameter { Value = start });
            command.Parameters.Add(new NpgsqlParameter { Value = end });
            var slices = new RowChunks.PageSlices();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    slices.Add(reader.GetInt64(1), RowChunks.ReadSlice(reader, 0));
                }
            }
            return slices.ToPage(start, end);
        }

        public async ValueTask DisposeAsync()
        {
            await Connection.DisposeAsync();
            await _source.DisposeAsync();
        }
    }
}
