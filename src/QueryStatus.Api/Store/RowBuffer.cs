namespace QueryStatus.Api.Store;

/// <summary>
/// Result rows as UTF-8 JSON exactly as received, packed back to back in large shared chunks, each followed by
/// a comma, with one 8-byte index entry per row (chunk number and offset). Reading row <c>i</c> is O(1) whatever
/// the number of rows, and rows cost their own bytes plus 9, not an object each. Because the commas are stored,
/// the rows of a page that lie in one chunk are already the page's JSON array elements, and go out as one copy.
/// </summary>
/// <remarks>
/// One writer at a time; readers only see rows appended before the buffer was published to them
/// (the store publishes a buffer when its run succeeds, after the last append).
/// </remarks>
public sealed class RowBuffer
{
    private const int MinChunkSize = 4 * 1024;
    private const int MaxChunkSize = 1024 * 1024;
    private const int IndexSegmentShift = 16;
    private const int IndexSegmentSize = 1 << IndexSegmentShift;

    /// <summary>The first index segment starts this small and doubles: a small result needs no 512 KiB index.</summary>
    private const int FirstIndexSegmentSize = 1024;

    private const byte Separator = (byte)',';

    private readonly List<byte[]> _chunks = [];
    private readonly List<int> _chunkUsed = [];
    private readonly List<long[]> _index = [];
    private long _bytes;

    private bool _frozen;

    /// <summary>The shared empty result; it refuses appends so that nobody can fill everyone's empty page.</summary>
    public static RowBuffer Empty { get; } = new() { _frozen = true };

    public long Count { get; private set; }

    /// <summary>Sum of the rows' UTF-8 lengths.</summary>
    public long ByteCount => _bytes;

    /// <summary>Bytes allocated for rows and their index, to compare with <see cref="ByteCount"/>.</summary>
    public long AllocatedBytes =>
        _chunks.Sum(c => (long)c.Length) + _index.Sum(segment => (long)segment.Length * sizeof(long));

    public void Append(ReadOnlySpan<byte> row)
    {
        if (_frozen)
        {
            throw new InvalidOperationException("The shared empty row buffer cannot be appended to.");
        }
        if (row.IsEmpty)
        {
            throw new ArgumentException("A row is one JSON value and cannot be empty.", nameof(row));
        }

        var stored = row.Length + 1;
        var chunkIndex = _chunks.Count - 1;
        if (chunkIndex < 0 || _chunks[chunkIndex].Length - _chunkUsed[chunkIndex] < stored)
        {
            chunkIndex = AddChunk(stored);
        }

        var offset = _chunkUsed[chunkIndex];
        var target = _chunks[chunkIndex].AsSpan(offset, stored);
        row.CopyTo(target);
        target[^1] = Separator;
        _chunkUsed[chunkIndex] = offset + stored;

        var segment = (int)(Count >> IndexSegmentShift);
        var slot = (int)(Count & (IndexSegmentSize - 1));
        if (segment == _index.Count)
        {
            _index.Add(new long[segment == 0 ? FirstIndexSegmentSize : IndexSegmentSize]);
        }
        var entries = _index[segment];
        if (slot == entries.Length)
        {
            // Only a young first segment (or one cut by Trim) is shorter than the full size; double it.
            Array.Resize(ref entries, Math.Min(IndexSegmentSize, Math.Max(FirstIndexSegmentSize, entries.Length * 2)));
            _index[segment] = entries;
        }
        entries[slot] = ((long)chunkIndex << 32) | (uint)offset;
        Count++;
        _bytes += row.Length;
    }

    /// <summary>Appends rows <c>[start, end)</c> of <paramref name="source"/>.</summary>
    public void AppendRange(RowBuffer source, long start, long end)
    {
        for (var row = start; row < end; row++)
        {
            Append(source.Get(row).Span);
        }
    }

    /// <summary>
    /// Gives back the unused ends of the last chunk and the last index segment, once no more rows are coming (the
    /// store calls it when a run succeeds): a finished result then holds its rows' bytes, 9 bytes per row, and
    /// what is left at the end of each full chunk (less than one row). Appending afterwards still works.
    /// </summary>
    public void Trim()
    {
        if (_frozen)
        {
            return;
        }
        var chunk = _chunks.Count - 1;
        if (chunk >= 0 && _chunkUsed[chunk] < _chunks[chunk].Length)
        {
            _chunks[chunk] = _chunks[chunk].AsSpan(0, _chunkUsed[chunk]).ToArray();
        }
        var segment = _index.Count - 1;
        if (segment >= 0)
        {
            var used = (int)(Count - ((long)segment << IndexSegmentShift));
            if (used < _index[segment].Length)
            {
                _index[segment] = _index[segment].AsSpan(0, used).ToArray();
            }
        }
    }

    /// <summary>The bytes of row <paramref name="row"/> (0-based).</summary>
    public ReadOnlyMemory<byte> Get(long row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Count);

        var (chunk, start) = Locate(row);
        int end;
        if (row + 1 < Count && Locate(row + 1) is var (nextChunk, nextStart) && nextChunk == chunk)
        {
            end = nextStart;
        }
        else
        {
            end = _chunkUsed[chunk];
        }
        return _chunks[chunk].AsMemory(start, end - start - 1);
    }

    /// <summary>
    /// The bytes <see cref="WriteElements"/> writes for rows <c>[start, end)</c> of an array's first call: the
    /// rows' lengths plus a comma between each two. Reads the index only (one entry per row, sequentially).
    /// </summary>
    public long MeasureElements(long start, long end)
    {
        if (start >= end)
        {
            return 0; // An empty window, wherever it lies (past the last row too).
        }
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, Count);

        // Each stored row carries its comma: the runs' bytes are the elements plus one comma too many.
        long bytes = 0;
        for (var row = start; row < end;)
        {
            var (chunk, from, to, next) = Run(row, end);
            bytes += to - from;
            row = next;
        }
        return bytes - 1;
    }

    /// <summary>
    /// Writes rows <c>[start, end)</c> as the elements of a JSON array (<c>row,row,...</c>, with a comma before
    /// <paramref name="start"/> unless <paramref name="first"/> says it is the array's first element) straight into
    /// <paramref name="writer"/>, stopping at the first row boundary after <paramref name="minBytes"/> were written
    /// (so the caller can flush). Returns the row to continue from (<paramref name="end"/> when done). The rows of
    /// one chunk go out as one copy of their stored bytes, commas included; nothing is allocated.
    /// </summary>
    public long WriteElements(long start, long end, bool first, System.Buffers.IBufferWriter<byte> writer, int minBytes)
    {
        if (start >= end)
        {
            return Math.Max(start, end);
        }
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, Count);

        long written = 0;
        if (!first)
        {
            writer.GetSpan(1)[0] = Separator;
            writer.Advance(1);
            written = 1;
        }
        var row = start;
        while (row < end)
        {
            var (chunk, from, to, next) = Run(row, end, Math.Max(1, minBytes - written));
            // The call's last row goes without its comma; the next call (or the array's end) supplies what follows.
            var last = next == end || written + (to - from) >= minBytes;
            if (last)
            {
                to--;
            }
            Copy(_chunks[chunk].AsSpan(from, to - from), writer);
            written += to - from;
            row = next;
            if (last)
            {
                break;
            }
        }
        return row;
    }

    /// <summary>
    /// The longest run of rows from <paramref name="row"/> (before <paramref name="end"/>) that lie in one chunk and,
    /// once it holds at least one row, stays under <paramref name="maxBytes"/>: its chunk, its stored bytes
    /// <c>[From, To)</c> (each row with its comma) and the row after it.
    /// </summary>
    private (int Chunk, int From, int To, long Next) Run(long row, long end, long maxBytes = long.MaxValue)
    {
        var (chunk, from) = Locate(row);
        // The first row after the run: chunk numbers never decrease and offsets grow within a chunk, so "in a later
        // chunk, or past the byte budget" holds from some row on; binary search finds it without reading every row.
        long low = row + 1, high = end;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            var (middleChunk, middleOffset) = Locate(middle);
            if (middleChunk != chunk || middleOffset - from >= maxBytes)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }
        var next = low;
        var to = next < Count && Locate(next) is var (nextChunk, nextOffset) && nextChunk == chunk ? nextOffset : _chunkUsed[chunk];
        return (chunk, from, to, next);
    }

    private static void Copy(ReadOnlySpan<byte> bytes, System.Buffers.IBufferWriter<byte> writer)
    {
        while (!bytes.IsEmpty)
        {
            var span = writer.GetSpan();
            var n = Math.Min(span.Length, bytes.Length);
            bytes[..n].CopyTo(span);
            writer.Advance(n);
            bytes = bytes[n..];
        }
    }

    private (int Chunk, int Offset) Locate(long row)
    {
        var packed = _index[(int)(row >> IndexSegmentShift)][row & (IndexSegmentSize - 1)];
        return ((int)(packed >> 32), (int)(uint)packed);
    }

    private int AddChunk(int atLeast)
    {
        // Small results stay small; large ones settle on 1 MiB chunks so slack stays under 1 MiB.
        var previous = _chunks.Count == 0 ? MinChunkSize / 2 : _chunks[^1].Length;
        var size = Math.Max(atLeast, Math.Min(previous * 2, MaxChunkSize));
        _chunks.Add(GC.AllocateUninitializedArray<byte>(size));
        _chunkUsed.Add(0);
        return _chunks.Count - 1;
    }
}
