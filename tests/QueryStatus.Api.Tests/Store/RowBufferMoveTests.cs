using System.Runtime.InteropServices;
using System.Text;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store;

/// <summary>
/// <see cref="RowBuffer.MoveFrom"/>: a completing task's staged rows join its run's result. Whatever the path (a large
/// source's chunks handed over, a small one copied), the result reads as if every row had been appended in order.
/// </summary>
public sealed class RowBufferMoveTests
{
    /// <summary>Rows of about 100 bytes, numbered from <paramref name="first"/>, each different.</summary>
    private static List<byte[]> Rows(string prefix, int first, int count) =>
        [.. Enumerable.Range(first, count).Select(i => Encoding.UTF8.GetBytes($"{{\"{prefix}\":{i},\"pad\":\"{new string('x', 70 + (i % 13))}\"}}"))];

    private static RowBuffer Filled(IEnumerable<byte[]> rows)
    {
        var buffer = new RowBuffer();
        foreach (var row in rows)
        {
            buffer.Append(row);
        }
        return buffer;
    }

    private static void AssertRows(RowBuffer buffer, IReadOnlyList<byte[]> expected)
    {
        Assert.Equal(expected.Count, buffer.Count);
        Assert.Equal(expected.Sum(r => (long)r.Length), buffer.ByteCount);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(buffer.Get(i).Span.SequenceEqual(expected[i]), $"row {i} differs");
        }
        // A page's segments, one after the other, are its rows joined by commas, across every chunk boundary.
        var joined = string.Join(',', expected.Select(r => Encoding.UTF8.GetString(r)));
        var segments = buffer.Segments(0, buffer.Count).Select(s => Encoding.UTF8.GetString(s.Span));
        Assert.Equal(joined, string.Concat(segments));
    }

    private static byte[] ArrayOf(ReadOnlyMemory<byte> row) =>
        MemoryMarshal.TryGetArray(row, out var segment) ? segment.Array! : throw new InvalidOperationException("not an array");

    [Fact]
    public void LargeSourceIntoAnEmptyBufferHandsOverItsBytesWithoutACopy()
    {
        var rows = Rows("a", 0, 30_000); // about 3 MB: several full chunks
        var source = Filled(rows);
        var firstChunk = ArrayOf(source.Get(0));
        var target = new RowBuffer();

        target.MoveFrom(source);

        AssertRows(target, rows);
        Assert.Same(firstChunk, ArrayOf(target.Get(0)));
        Assert.Equal(0, source.Count);
        Assert.Equal(0, source.ByteCount);
    }

    [Fact]
    public void LargeSourceAfterExistingRowsKeepsEveryRowInOrderAndHandsOverItsChunks()
    {
        var before = Rows("before", 0, 12_345);
        var moved = Rows("moved", 0, 40_000); // about 3.8 MB: two full-size chunks, then a part of one
        var target = Filled(before);
        var source = Filled(moved);
        var fullChunk = ArrayOf(source.Get(15_000)); // about 1.5 MB in: the first full-size (1 MiB) chunk

        target.MoveFrom(source);

        AssertRows(target, [.. before, .. moved]);
        Assert.Same(fullChunk, ArrayOf(target.Get(before.Count + 15_000)));
        Assert.Equal(0, source.Count);
    }

    [Fact]
    public void SmallSourceIsCopiedIntoTheTargetsChunks()
    {
        var before = Rows("before", 0, 10);
        var moved = Rows("moved", 0, 20);
        var target = Filled(before);
        var source = Filled(moved);

        target.MoveFrom(source);

        AssertRows(target, [.. before, .. moved]);
        Assert.Same(ArrayOf(target.Get(0)), ArrayOf(target.Get(before.Count)));
        Assert.Equal(0, source.Count);
    }

    [Fact]
    public void RowsAppendedAfterAMoveFollowTheMovedRows()
    {
        var first = Rows("first", 0, 15_000);
        var moved = Rows("moved", 0, 15_000);
        var after = Rows("after", 0, 15_000);
        var target = Filled(first);

        target.MoveFrom(Filled(moved));
        foreach (var row in after)
        {
            target.Append(row);
        }
        target.Trim();

        AssertRows(target, [.. first, .. moved, .. after]);
    }

    [Fact]
    public void SeveralLargeSourcesInARowReadAsOneResult()
    {
        var parts = Enumerable.Range(0, 3).Select(p => Rows($"part{p}", 0, 11_000 + p)).ToList();
        var target = new RowBuffer();

        foreach (var part in parts)
        {
            target.MoveFrom(Filled(part));
        }

        AssertRows(target, [.. parts.SelectMany(p => p)]);
        var window = target.Segments(10_990, 11_010).Select(s => Encoding.UTF8.GetString(s.Span));
        Assert.Equal(string.Join(',', parts.SelectMany(p => p).Skip(10_990).Take(20).Select(r => Encoding.UTF8.GetString(r))),
            string.Concat(window));
    }

    [Fact]
    public void RangeSharesTheFullSizeChunksItCoversAndCopiesItsEdges()
    {
        var rows = Rows("a", 0, 40_000);
        var source = Filled(rows);
        var target = new RowBuffer();

        target.AppendRange(source, 100, 39_000);

        AssertRows(target, rows[100..39_000]);
        Assert.Same(ArrayOf(source.Get(20_000)), ArrayOf(target.Get(20_000 - 100)));
        Assert.NotSame(ArrayOf(source.Get(100)), ArrayOf(target.Get(0)));
        AssertRows(source, rows); // the source reads as before
    }

    [Fact]
    public void AppendsAfterASharedChunkNeverWriteIntoIt()
    {
        // About 1.9 MB: the last chunk is a full-size one, partly used, and the range covers it: shared with room left.
        var rows = Rows("a", 0, 20_000);
        var source = Filled(rows);
        var target = new RowBuffer();
        target.AppendRange(source, 0, source.Count);
        Assert.Same(ArrayOf(source.Get(19_999)), ArrayOf(target.Get(19_999)));
        var theirs = Rows("theirs", 0, 50);
        var ours = Rows("ours", 0, 50);

        for (var i = 0; i < 50; i++)
        {
            target.Append(ours[i]);
            source.Append(theirs[i]);
        }

        AssertRows(target, [.. rows, .. ours]);
        AssertRows(source, [.. rows, .. theirs]);
    }

    [Fact]
    public void EmptySourceChangesNothing()
    {
        var rows = Rows("a", 0, 5);
        var target = Filled(rows);

        target.MoveFrom(new RowBuffer());

        AssertRows(target, rows);
    }

    [Fact]
    public void BufferCannotTakeItsOwnRows()
    {
        var rows = Rows("a", 0, 30_000);
        var buffer = Filled(rows);

        Assert.Throws<ArgumentException>(() => buffer.MoveFrom(buffer));

        AssertRows(buffer, rows);
    }

    [Fact]
    public void SharedEmptyBufferNeitherTakesNorGivesRows()
    {
        Assert.Throws<InvalidOperationException>(() => RowBuffer.Empty.MoveFrom(Filled(Rows("a", 0, 3))));
        Assert.Throws<InvalidOperationException>(() => new RowBuffer().MoveFrom(RowBuffer.Empty));
        Assert.Equal(0, RowBuffer.Empty.Count);
    }
}
