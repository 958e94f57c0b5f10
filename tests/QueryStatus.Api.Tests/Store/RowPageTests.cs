using System.Text;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store;

/// <summary>
/// A page as the in-memory store hands it out: <see cref="RowBuffer.Segments"/> of the stored bytes, whose concatenation
/// is the rows as array elements byte for byte, across chunk boundaries; and its rows one by one.
/// </summary>
public sealed class RowPageTests
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

    private static RowPage Page(RowBuffer buffer, long start, long end) => new(start, end, buffer.Segments(start, end));

    private static string Text(RowPage page) =>
        string.Concat(page.Segments.Select(segment => Encoding.UTF8.GetString(segment.Span)));

    [Fact]
    public void WindowComesOutCommaSeparatedByteForByte()
    {
        var (buffer, rows) = Build(50, i => $$"""{"i":{{i}},"é":"東京 🚀","s":" spaced  "}""");

        Assert.Equal(string.Join(",", rows[10..20]), Text(Page(buffer, 10, 20)));
        Assert.Equal(string.Join(",", rows), Text(Page(buffer, 0, 50)));
        Assert.Equal(rows[49], Text(Page(buffer, 49, 50)));
        Assert.Equal("", Text(Page(buffer, 20, 20)));
    }

    [Fact]
    public void RowsAcrossChunkBoundariesAndLargerThanAChunkAreWhole()
    {
        // 3 KB rows overflow the first 4 KB chunk at once; a 2 MB row is larger than any chunk.
        var (buffer, rows) = Build(40, i => i == 17 ? "\"" + new string('x', 2 * 1024 * 1024) + "\"" : $"\"{i}{new string('y', 3000)}\"");

        var whole = Page(buffer, 0, 40);
        Assert.Equal(string.Join(",", rows), Text(whole));
        Assert.True(whole.Segments.Count > 1, "expected the window to span several chunks");
        Assert.Equal(string.Join(",", rows[15..20]), Text(Page(buffer, 15, 20)));
    }

    [Fact]
    public void ByteCountIsExactlyTheSegmentsBytes()
    {
        var (buffer, _) = Build(300, i => i % 97 == 0 ? "\"" + new string('z', 5000 + i) + "\"" : "{\"n\":" + i + ",\"é\":\"" + new string('e', i % 13) + "\"}");

        foreach (var (start, end) in new (long, long)[] { (0, 300), (0, 1), (299, 300), (5, 5), (96, 98), (10, 290), (150, 300), (0, 97) })
        {
            var page = Page(buffer, start, end);
            Assert.Equal(Encoding.UTF8.GetByteCount(Text(page)), page.ByteCount);
        }
    }

    [Fact]
    public void EnumeratingAPageYieldsEachRowsBytes()
    {
        var (buffer, rows) = Build(120, i => (i % 3) switch
        {
            0 => $$"""{"n":{{i}},"nested":[1,{"a":"]"}]}""",
            1 => $"\"text, with a comma {i}\"",
            _ => i.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        var page = Page(buffer, 7, 110);
        var read = new List<string>();
        foreach (var row in page)
        {
            read.Add(Encoding.UTF8.GetString(row.Span));
        }

        Assert.Equal(rows[7..110], read);
    }

    [Fact]
    public void OutOfRangeWindowsAreRefused()
    {
        var (buffer, _) = Build(3, i => i.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Segments(-1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Segments(0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RowPage(5, 4, []));

        // An empty window is empty wherever it lies, past the last row included (a page past the end).
        Assert.Empty(buffer.Segments(3, 3));
        Assert.Empty(buffer.Segments(1_000_000, 1_000_000));
        Assert.Empty(RowBuffer.Empty.Segments(42, 42));
        Assert.Equal(0, RowPage.Empty(42).ByteCount);
    }
}
