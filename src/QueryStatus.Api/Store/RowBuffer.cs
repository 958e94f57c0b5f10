namespace QueryStatus.Api.Store;

/// <summary>
/// Result rows as UTF-8 JSON exactly as received, packed back to back in large shared chunks, each followed by
/// a comma, with one 8-byte index entry per row (chunk number and offset). Reading row <c>i</c> is O(1) whatever
/// the number of rows, and rows cost their own bytes plus 9, not an object each. Because the commas are stored,
/// the rows of a page that lie in one chunk are already the page's JSON array elements, handed out as one slice.
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

    private List<byte[]> _chunks = [];
    private List<int> _chunkUsed = [];
    private List<long[]> _index = [];
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
        if (chunkIndex < 0 || _lastChunkShared || _chunks[chunkIndex].Length - _chunkUsed[chunkIndex] < stored)
        {
            chunkIndex = AddChunk(stored);
        }

        var offset = _chunkUsed[chunkIndex];
        var target = _chunks[chunkIndex].AsSpan(offset, stored);
        row.CopyTo(target);
        target[^1] = Separator;
        _chunkUsed[chunkIndex] = offset + stored;

        AppendIndex(chunkIndex, offset);
        _bytes += row.Length;
    }

    /// <summary>Records the next row as starting at <paramref name="offset"/> of chunk <paramref name="chunkIndex"/>.</summary>
    private void AppendIndex(int chunkIndex, int offset)
    {
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
    }

    /// <summary>
    /// Appends rows <c>[start, end)</c> of <paramref name="source"/>. Full-size chunks whose rows all lie in the range
    /// are shared, not copied (they are never written again: the source's rows end where they end, and this buffer
    /// appends to a new chunk after one); the rest is copied row by row. So putting a large result's tasks in sub-query
    /// order, or a large task's batches in batch order, copies only the rows at the edges of each range.
    /// </summary>
    public void AppendRange(RowBuffer source, long start, long end)
    {
        for (var row = start; row < end;)
        {
            var (chunk, from, to, next) = source.Run(row, end);
            var array = source._chunks[chunk];
            if (array.Length == MaxChunkSize && from == 0 && to == source._chunkUsed[chunk])
            {
                Share(array, to, source, row, next);
            }
            else
            {
                for (var copied = row; copied < next; copied++)
                {
                    Append(source.Get(copied).Span);
                }
            }
            row = next;
        }
    }

    /// <summary>Takes <paramref name="array"/>, whose first <paramref name="used"/> bytes are the rows <c>[row, next)</c> of <paramref name="source"/>, as its next chunk.</summary>
    private void Share(byte[] array, int used, RowBuffer source, long row, long next)
    {
        if (_frozen)
        {
            throw new InvalidOperationException("The shared empty row buffer cannot be appended to.");
        }
        TrimLastChunk();
        _chunks.Add(array);
        _chunkUsed.Add(used);
        _lastChunkShared = true;
        var chunk = _chunks.Count - 1;
        for (var shared = row; shared < next; shared++)
        {
            AppendIndex(chunk, source.Locate(shared).Offset);
        }
        _bytes += used - (next - row); // each stored row carries its comma
    }

    /// <summary>True when the last chunk is another buffer's too: appends then start a chunk of their own.</summary>
    private bool _lastChunkShared;

    /// <summary>
    /// Moves every row of <paramref name="source"/>, in order, to the end of this buffer, and leaves
    /// <paramref name="source"/> empty. Into an empty buffer the source's chunks and index are taken as they are (its
    /// last chunk cut to size first); otherwise as <see cref="AppendRange"/>, which shares the full-size chunks. A task
    /// that staged ten million rows thus completes without copying a gigabyte under the store's lock, and its staged
    /// memory becomes the result instead of garbage the size of the result.
    /// </summary>
    /// <remarks>
    /// Measured (bench/RESULTS.md, 2026-12-05, eighteenth session): completing one task of 10,000,000 rows took 2.9-3.0 s
    /// and left the process 1,977 MiB resident (after a full collection) for 1.0 GB of live heap; with the move, 13-14 ms
    /// and 1,089 MiB.
    /// </remarks>
    public void MoveFrom(RowBuffer source)
    {
        if (_frozen || source._frozen)
        {
            throw new InvalidOperationException("The shared empty row buffer cannot take or give rows.");
        }
        if (ReferenceEquals(source, this))
        {
            throw new ArgumentException("A row buffer cannot take its own rows.", nameof(source));
        }
        if (source.Count == 0)
        {
            return;
        }
        source.TrimLastChunk();
        if (Count == 0)
        {
            (_chunks, _chunkUsed, _index) = (source._chunks, source._chunkUsed, source._index);
            (Count, _bytes, _lastChunkShared) = (source.Count, source._bytes, source._lastChunkShared);
            (source._chunks, source._chunkUsed, source._index) = ([], [], []);
        }
        else
        {
            AppendRange(source, 0, source.Count);
            source._chunks.Clear();
            source._chunkUsed.Clear();
            source._index.Clear();
        }
        (source.Count, source._bytes, source._lastChunkShared) = (0, 0, false);
    }

    /// <summary>Cuts the last chunk to the bytes it holds (unless it is shared, and so not this buffer's to cut).</summary>
    private void TrimLastChunk()
    {
        var chunk = _chunks.Count - 1;
        if (chunk >= 0 && !_lastChunkShared && _chunkUsed[chunk] < _chunks[chunk].Length)
        {
            _chunks[chunk] = _chunks[chunk].AsSpan(0, _chunkUsed[chunk]).ToArray();
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
        TrimLastChunk();
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
    /// Rows <c>[start, end)</c> as JSON array elements (<c>row,row,…,row</c>): one slice of stored bytes per chunk the
    /// window touches, commas included, less the last row's. Reads the index at each run's ends only (binary search),
    /// so the cost is the number of chunks touched, whatever the offset; nothing is copied.
    /// </summary>
    /// <remarks>The slices stay valid and unchanged as long as nothing is appended, which holds for a published result.</remarks>
    public ReadOnlyMemory<byte>[] Segments(long start, long end)
    {
        if (start >= end)
        {
            return []; // An empty window, wherever it lies (past the last row too).
        }
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, Count);

        var segments = new List<ReadOnlyMemory<byte>>(2);
        for (var row = start; row < end;)
        {
            var (chunk, from, to, next) = Run(row, end);
            // Each stored row carries its comma; the window's last row goes without.
            segments.Add(_chunks[chunk].AsMemory(from, next == end ? to - from - 1 : to - from));
            row = next;
        }
        return [.. segments];
    }

    /// <summary>
    /// The longest run of rows from <paramref name="row"/> (before <paramref name="end"/>) that lie in one chunk: its
    /// chunk, its stored bytes <c>[From, To)</c> (each row with its comma) and the row after it.
    /// </summary>
    private (int Chunk, int From, int To, long Next) Run(long row, long end)
    {
        var (chunk, from) = Locate(row);
        // The first row after the run: chunk numbers never decrease, so "in a later chunk" holds from some row on;
        // binary search finds it without reading every row.
        long low = row + 1, high = end;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            if (Locate(middle).Chunk != chunk)
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
        _lastChunkShared = false;
        return _chunks.Count - 1;
    }
}
