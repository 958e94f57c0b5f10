using System.Buffers;
using System.Text;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store;

/// <summary>
/// RowBuffer.WriteElements, the page writer's fast path: the rows of a window as array elements, byte for
/// byte, across chunk boundaries, resumable where it stopped for a flush.
/// </summary>
public sealed class RowBufferWriteElementsTests
{
    private static (RowBuffer Buffer, string[] Rows) Build(int count, Func<int, string> row)
    {
        var rows = Enumerable.Range(0, count).Select(row).ToArray();
        var buffer = new RowBuffer();
        foreach (var text in rows)
        {
            buffer.Append(Encoding.UTF8.GetBytes(text));
        }
        return (buffer, rows);
    }

    /// <summary>Hands out small separate buffers, as a pipe hands out its segments.</summary>
    private sealed class SegmentWriter(int segment) : IBufferWriter<byte>
    {
        private readonly MemoryStream _written = new();
        private byte[] _current = [];

        public ReadOnlySpan<byte> WrittenSpan => _written.GetBuffer().AsSpan(0, (int)_written.Length);

        public void Advance(int count) => _written.Write(_current, 0, count);

        public Memory<byte> GetMemory(int sizeHint = 0) => _current = new byte[Math.Max(sizeHint, segment)];

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }

    private static string Write(RowBuffer buffer, long start, long end, int minBytes, out int calls, int segment = 4096)
    {
        var sink = new SegmentWriter(segment);
        calls = 0;
        for (var next = start; next < end || calls == 0;)
        {
            calls++;
            var before = next;
            next = buffer.WriteElements(next, end, first: next == start, sink, minBytes);
            Assert.True(next > before || before >= end, "no progress");
            if (before >= end)
            {
                break;
            }
        }
        return Encoding.UTF8.GetString(sink.WrittenSpan);
    }

    [Fact]
    public void WindowComesOutCommaSeparatedByteForByte()
    {
        var (buffer, rows) = Build(50, i => $$"""{"i":{{i}},"é":"東京 🚀","s":" spaced  "}""");

        Assert.Equal(string.Join(",", rows[10..20]), Write(buffer, 10, 20, int.MaxValue, out _));
        Assert.Equal(string.Join(",", rows), Write(buffer, 0, 50, int.MaxValue, out _));
        Assert.Equal(rows[49], Write(buffer, 49, 50, int.MaxValue, out _));
        Assert.Equal("", Write(buffer, 20, 20, int.MaxValue, out _));
    }

    [Fact]
    public void RowsAcrossChunkBoundariesAndLargerThanAChunkAreWhole()
    {
        // 3 KB rows overflow the first 4 KB chunk at once; a 2 MB row is larger than any chunk.
        var (buffer, rows) = Build(40, i => i == 17 ? "\"" + new string('x', 2 * 1024 * 1024) + "\"" : $"\"{i}{new string('y', 3000)}\"");

        Assert.Equal(string.Join(",", rows), Write(buffer, 0, 40, int.MaxValue, out _));
        Assert.Equal(string.Join(",", rows[15..20]), Write(buffer, 15, 20, int.MaxValue, out _));
    }

    [Fact]
    public void StopsAfterTheByteBudgetAndResumesWithoutLosingOrRepeatingRows()
    {
        var (buffer, rows) = Build(1000, i => $$"""{"row":{{i}},"pad":"{{new string('p', i % 50)}}"}""");

        var text = Write(buffer, 100, 900, minBytes: 1024, out var calls, segment: 256);

        Assert.Equal(string.Join(",", rows[100..900]), text);
        Assert.True(calls > 10, $"expected the budget to split the window, got {calls} call(s)");
    }

    [Fact]
    public void MeasureElementsIsExactlyWhatWriteElementsWrites()
    {
        var (buffer, _) = Build(300, i => i % 97 == 0 ? "\"" + new string('z', 5000 + i) + "\"" : $"{{\"n\":{i},\"é\":\"{new string('e', i % 13)}\"}}");

        foreach (var (start, end) in new (long, long)[] { (0, 300), (0, 1), (299, 300), (5, 5), (96, 98), (10, 290), (150, 300), (0, 97) })
        {
            var written = Encoding.UTF8.GetByteCount(Write(buffer, start, end, int.MaxValue, out _));
            Assert.Equal(written, buffer.MeasureElements(start, end));
        }
    }

    [Fact]
    public void OutOfRangeWindowsAreRefused()
    {
        var (buffer, _) = Build(3, i => i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var sink = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.WriteElements(-1, 2, true, sink, int.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.WriteElements(0, 4, true, sink, int.MaxValue));
        Assert.Equal(3, buffer.WriteElements(3, 3, true, sink, int.MaxValue));

        // An empty window is empty wherever it lies, past the last row included (a page past the end).
        Assert.Equal(1_000_000, buffer.WriteElements(1_000_000, 1_000_000, true, sink, int.MaxValue));
        Assert.Equal(0, buffer.MeasureElements(1_000_000, 1_000_000));
        Assert.Equal(0, RowBuffer.Empty.MeasureElements(42, 42));
        Assert.Equal(0, sink.WrittenCount);
    }
}
