using System.Buffers;
using System.Globalization;
using NpgsqlTypes;
using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// Result rows in PostgreSQL (<c>row_chunks</c>): a batch's rows packed into chunks of at most
/// <see cref="MaxChunkBytes"/> (bigger rows get a chunk of their own) as the bytes of JSON array elements,
/// <c>row,row,…,row</c>, exactly as received, with each row's start offset. Written with binary COPY, one chunk per
/// table row; numbered when a run succeeds; read back for a page as the slices of the chunks around its window.
/// </summary>
/// <remarks>
/// Why chunks and not a table row per row: a 10,000-row page is a handful of table rows and its bytes go to the
/// response as stored, with no per-row parsing or re-serialising; and why slices: the page query cuts each chunk to
/// the window in SQL (<c>substring</c> at the rows' offsets), so PostgreSQL reads at most a chunk beyond the page at
/// each end and sends the page's own bytes, whatever its offset. Chunks are stored compressed with lz4 (migration
/// 0005): a fourth of the bytes and WAL to write, and no slower to read (a page sends most of its chunks whole).
/// </remarks>
public static class RowChunks
{
    /// <summary>Chunk size: big enough that a page is a few table rows, small enough that staging one is cheap.</summary>
    /// <remarks>
    /// Tried and left: 7 KB chunks kept in the heap row (no TOAST pieces to gather) cut PostgreSQL's CPU per 10,000-row
    /// page by about a fifth, but made nine times as many chunk rows to copy in, number at success (2.2 s per 1,000,000
    /// rows) and read for the store's gauges (bench/RESULTS.md).
    /// </remarks>
    public const int MaxChunkBytes = 64 * 1024;

    /// <summary>
    /// A batch's rows (in order) packed into chunks one at a time, each built in the same buffer from the shared pool:
    /// a chunk's <see cref="Bytes"/> are valid until the next <see cref="MoveNext"/>, which is as long as COPY needs them.
    /// </summary>
    /// <remarks>
    /// A fresh array per chunk was 4.3 MB of new memory per 50,000-row batch, written once and dropped: a copy into pages
    /// the kernel had to fault in (2.8% of the service's CPU samples while ingesting into PostgreSQL, bench/RESULTS.md),
    /// and garbage. The pooled buffer stays warm from one chunk, and one request, to the next.
    /// </remarks>
    public sealed class Packer(IReadOnlyList<ReadOnlyMemory<byte>> rows, int maxChunkBytes = MaxChunkBytes) : IDisposable
    {
        private byte[] _buffer = [];
        private int _next;

        /// <summary>The chunk's number in its batch, from 0.</summary>
        public int Seq { get; private set; } = -1;

        /// <summary>The chunk's rows, comma-separated.</summary>
        public ReadOnlyMemory<byte> Bytes { get; private set; }

        /// <summary>Where each of the chunk's rows starts in <see cref="Bytes"/>.</summary>
        public int[] Offsets { get; private set; } = [];

        /// <summary>Packs the next chunk: as many rows as fit (commas included), at least one however long; false after the last.</summary>
        public bool MoveNext()
        {
            var first = _next;
            if (first >= rows.Count)
            {
                return false;
            }
            var length = rows[first].Length;
            var end = first + 1;
            while (end < rows.Count && length + 1 + rows[end].Length <= maxChunkBytes)
            {
                length += 1 + rows[end].Length;
                end++;
            }
            if (_buffer.Length < length)
            {
                Dispose();
                _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, maxChunkBytes));
            }
            var offsets = new int[end - first];
            var at = 0;
            for (var row = first; row < end; row++)
            {
                if (row > first)
                {
                    _buffer[at++] = (byte)',';
                }
                offsets[row - first] = at;
                rows[row].Span.CopyTo(_buffer.AsSpan(at));
                at += rows[row].Length;
            }
            _next = end;
            Seq++;
            Bytes = _buffer.AsMemory(0, length);
            Offsets = offsets;
            return true;
        }

        public void Dispose()
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }
        }
    }

    /// <summary>
    /// Stages a batch's rows for a task attempt, in the caller's transaction, and counts them in the run's
    /// <c>run_rows.held_rows</c> unless that would pass <paramref name="maxHeldRows"/>: then it answers false and the caller must
    /// roll the transaction back or fail the run, which deletes its chunks (the rows were copied already). The store's one
    /// check of <c>Scheduler:MaxRowsPerRun</c>.
    /// </summary>
    /// <remarks>
    /// The count is added after the copy, so the run's counter is locked only from then until the commit: batches of one run
    /// written at once (several workers, several instances) copy side by side and take turns only for that update. Its
    /// condition is evaluated on the latest count, so the limit holds exactly however many write at once.
    /// </remarks>
    public static async Task<bool> WriteAsync(
        NpgsqlConnection connection, long runId, string taskId, int attempt, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows,
        long maxHeldRows, CancellationToken cancellationToken)
    {
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY row_chunks (run_id, task_id, attempt, batch, seq, row_count, bytes, offsets) FROM STDIN (FORMAT BINARY)",
            cancellationToken))
        {
            using var chunk = new Packer(rows);
            while (chunk.MoveNext())
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(runId, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(taskId, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(attempt, NpgsqlDbType.Integer, cancellationToken);
                await copy.WriteAsync(batch, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(chunk.Seq, NpgsqlDbType.Integer, cancellationToken);
                await copy.WriteAsync(chunk.Offsets.Length, NpgsqlDbType.Integer, cancellationToken);
                await copy.WriteAsync(chunk.Bytes, NpgsqlDbType.Bytea, cancellationToken);
                await copy.WriteAsync(chunk.Offsets, NpgsqlDbType.Array | NpgsqlDbType.Integer, cancellationToken);
            }
            await copy.CompleteAsync(cancellationToken);
        }
        await using var held = new NpgsqlCommand(
            "UPDATE run_rows SET held_rows = held_rows + $2 WHERE run_id = $1 AND held_rows + $2 <= $3", connection);
        held.Parameters.Add(new NpgsqlParameter { Value = runId });
        held.Parameters.Add(new NpgsqlParameter { Value = (long)rows.Count });
        held.Parameters.Add(new NpgsqlParameter { Value = maxHeldRows });
        return await held.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Discards what a task attempt staged (its lease ended without completing), in the caller's transaction.</summary>
    public static async Task DiscardAsync(NpgsqlConnection connection, string taskId, int attempt, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            WITH gone AS (DELETE FROM row_chunks WHERE task_id = $1 AND attempt = $2 RETURNING run_id, row_count)
            UPDATE run_rows r SET held_rows = r.held_rows - g.rows
            FROM (SELECT run_id, sum(row_count) AS rows FROM gone GROUP BY run_id) g
            WHERE r.run_id = g.run_id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = taskId });
        command.Parameters.Add(new NpgsqlParameter { Value = attempt });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The task id under which rows belong to the run itself rather than to one of its tasks: a seeded result with no
    /// sub-queries (they are the run's only rows). Unique per run, as chunk keys must be; task ids start with <c>t_</c>.
    /// </summary>
    public static string RunOwnTaskId(long runId) => string.Create(CultureInfo.InvariantCulture, $"r_{runId}");

    /// <summary><see cref="RunOwnTaskId"/> in SQL, of the chunk <c>c</c>.</summary>
    private const string RunOwnTaskIdSql = "'r_' || c.run_id";

    /// <summary>
    /// Numbers a succeeded run's rows: each task's attempt that completed it (<c>tasks.attempt</c>), tasks in sub-query
    /// order, batches by number (a negative batch, the complete call's own rows, after every other), chunks in order; returns the run's row count. Rows of other attempts stay unnumbered
    /// (never served; deleted with the run).
    /// </summary>
    public static async Task<long> NumberAsync(NpgsqlConnection connection, long runId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            WITH numbered AS (
                SELECT c.task_id, c.attempt, c.batch, c.seq,
                       sum(c.row_count) OVER (ORDER BY coalesce(t.ordinal, -1), c.batch < 0, c.batch, c.seq) - c.row_count AS first_row
                FROM row_chunks c
                LEFT JOIN tasks t ON t.task_id = c.task_id AND t.attempt = c.attempt
                WHERE c.run_id = $1 AND (t.task_id IS NOT NULL OR c.task_id = {RunOwnTaskIdSql})
            ), updated AS (
                UPDATE row_chunks c SET first_row = n.first_row
                FROM numbered n
                WHERE c.task_id = n.task_id AND c.attempt = n.attempt AND c.batch = n.batch AND c.seq = n.seq
                RETURNING c.row_count
            )
            SELECT coalesce(sum(row_count), 0)::bigint FROM updated
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = runId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>SQL that is true while any chunk of the run is stored, numbered or staged.</summary>
    /// <param name="runId">SQL for the run's id: a parameter or a column of an enclosing query.</param>
    public static string AnyOfRunSql(string runId) => $"EXISTS (SELECT 1 FROM row_chunks c WHERE c.run_id = {runId})";

    /// <summary>
    /// The slices of a numbered result's rows <c>[start, end)</c>: each chunk the window touches, cut to the window in
    /// SQL, as rows of <c>(slice bytea, first_row bigint)</c> to be read in <c>first_row</c> order. The chunk holding
    /// <c>start</c> is found through the index (the last chunk starting at or before it), so the cost does not depend
    /// on the offset. An empty window, a window past the result's end, or a result not numbered (not succeeded), has no
    /// slices (an empty window inside a chunk would cut it to a negative length).
    /// </summary>
    /// <param name="runId">SQL for the run's id: a parameter or a column of an enclosing query.</param>
    /// <param name="start">SQL for the first row's number.</param>
    /// <param name="end">SQL for the number after the last row's.</param>
    public static string PageSlicesSql(string runId, string start, string end) =>
        $"""
        SELECT substring(c.bytes FROM c.offsets[w.a + 1] + 1 FOR
                   (CASE WHEN w.b < c.row_count THEN c.offsets[w.b + 1] - 1 ELSE length(c.bytes) END) - c.offsets[w.a + 1]) AS slice,
               c.first_row
        FROM row_chunks c
        CROSS JOIN LATERAL (SELECT greatest({start} - c.first_row, 0)::int AS a, least({end} - c.first_row, c.row_count)::int AS b) w
        WHERE c.run_id = {runId}
          AND {start} < {end}
          AND c.first_row >= coalesce((SELECT max(first_row) FROM row_chunks WHERE run_id = {runId} AND first_row <= {start}), 0)
          AND c.first_row < {end}
          AND c.first_row + c.row_count > {start}
        """;

    /// <summary>
    /// A slice's bytes, copied from the reader into an array that is not zeroed first: <c>GetFieldValue&lt;byte[]&gt;</c>
    /// zeroes each new array before filling it, which was 13.5% of the service's CPU samples on 10,000-row pages
    /// (bench/RESULTS.md).
    /// </summary>
    public static byte[] ReadSlice(NpgsqlDataReader reader, int ordinal)
    {
        var length = checked((int)reader.GetBytes(ordinal, 0, null, 0, 0));
        var bytes = GC.AllocateUninitializedArray<byte>(length);
        var read = reader.GetBytes(ordinal, 0, bytes, 0, length);
        return read == length ? bytes : throw new InvalidOperationException($"A row slice of {length} bytes gave {read}.");
    }

    /// <summary>
    /// A page's slices as a statement returned them, put in row order here: an <c>ORDER BY first_row</c> in the statement
    /// made PostgreSQL sort the slices themselves, copying every ~64 KB value once more (48% of its CPU on a 10,000-row
    /// page, bench/RESULTS.md), to order a handful of rows.
    /// </summary>
    public sealed class PageSlices
    {
        private readonly List<(long FirstRow, byte[] Slice)> _slices = [];

        public void Add(long firstRow, byte[] slice) => _slices.Add((firstRow, slice));

        /// <summary>The rows <c>[start, end)</c>: the slices in row order, a comma between each two.</summary>
        public RowPage ToPage(long start, long end)
        {
            if (end <= start)
            {
                return RowPage.Empty(start);
            }
            _slices.Sort(static (a, b) => a.FirstRow.CompareTo(b.FirstRow));
            var segments = new ReadOnlyMemory<byte>[Math.Max(0, 2 * _slices.Count - 1)];
            for (var i = 0; i < _slices.Count; i++)
            {
                if (i > 0)
                {
                    segments[2 * i - 1] = Comma;
                }
                segments[2 * i] = _slices[i].Slice;
            }
            return new RowPage(start, end, segments);
        }
    }

    private static readonly ReadOnlyMemory<byte> Comma = new[] { (byte)',' };
}
