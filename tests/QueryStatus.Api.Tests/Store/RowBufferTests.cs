using System.Text;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store;

public sealed class RowBufferTests
{
    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void SharedEmptyBufferRefusesAppends()
    {
        Assert.Throws<InvalidOperationException>(() => RowBuffer.Empty.Append(Bytes("{}")));
        Assert.Equal(0, RowBuffer.Empty.Count);
    }

    private static void AssertRow(RowBuffer buffer, long index, byte[] expected) =>
        Assert.True(buffer.Get(index).Span.SequenceEqual(expected),
            $"Row {index}: expected {expected.Length} bytes '{Truncate(Encoding.UTF8.GetString(expected))}', " +
            $"got {buffer.Get(index).Length} bytes '{Truncate(StoreTestHelpers.Utf8(buffer.Get(index)))}'.");

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";

    [Fact]
    public void RowsComeBackByteForByteIncludingMultiByteUtf8AndInnerWhitespace()
    {
        string[] rows =
        [
            """{"name":"Zoë","city":"東京","mood":"🚀"}""",
            "{ \"spaced\" :  [ 1 , 2 ,\t3 ] ,\r\n  \"newline\": true }",
            "\"  a string  with   inner spaces \"",
            """{"escaped":"\u00e9\n\"quoted\"","literal":"é"}""",
            "42",
            "-1.50e+10",
            "null",
            """[{"nested":{"deep":[[[]]]}}]""",
        ];
        var buffer = new RowBuffer();
        foreach (var row in rows)
        {
            buffer.Append(Bytes(row));
        }

        Assert.Equal(rows.Length, buffer.Count);
        for (var i = 0; i < rows.Length; i++)
        {
            AssertRow(buffer, i, Bytes(rows[i]));
        }
    }

    [Fact]
    public void CountAndByteCountAddUpTheRowsUtf8Lengths()
    {
        var buffer = new RowBuffer();
        Assert.Equal(0, buffer.Count);
        Assert.Equal(0, buffer.ByteCount);

        buffer.Append(Bytes("\"é\""));      // 4 bytes: é is two.
        buffer.Append(Bytes("\"🚀\""));     // 6 bytes: the rocket is four.
        buffer.Append(Bytes("{ }"));        // 3 bytes.

        Assert.Equal(3, buffer.Count);
        Assert.Equal(13, buffer.ByteCount);
    }

    [Fact]
    public void EmptyRowIsRejectedAndLeavesTheBufferUnchanged()
    {
        var buffer = new RowBuffer();
        buffer.Append(Bytes("1"));

        var error = Assert.Throws<ArgumentException>(() => buffer.Append(ReadOnlySpan<byte>.Empty));

        Assert.Equal("row", error.ParamName);
        Assert.Equal(1, buffer.Count);
        Assert.Equal(1, buffer.ByteCount);
        AssertRow(buffer, 0, Bytes("1"));
    }

    [Theory]
    [InlineData(0, -1)]
    [InlineData(0, 0)]
    [InlineData(3, 3)]
    [InlineData(3, 4)]
    [InlineData(3, -1)]
    [InlineData(3, long.MaxValue)]
    [InlineData(3, long.MinValue)]
    public void ReadingOutsideTheRowsThrows(int rows, long index)
    {
        var buffer = new RowBuffer();
        for (var i = 0; i < rows; i++)
        {
            buffer.Append(Bytes($"{i}"));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Get(index));
    }

    [Fact]
    public void RowBiggerThanOneMebibyteComesBackWholeBetweenSmallRows()
    {
        var big = Bytes("{\"blob\":\"" + new string('x', 1024 * 1024 + 12345) + "é\"}");
        var buffer = new RowBuffer();
        buffer.Append(Bytes("\"before\""));
        buffer.Append(big);
        buffer.Append(Bytes("\"after\""));

        Assert.Equal(3, buffer.Count);
        Assert.Equal(8 + big.Length + 7, buffer.ByteCount);
        AssertRow(buffer, 0, Bytes("\"before\""));
        AssertRow(buffer, 1, big);
        AssertRow(buffer, 2, Bytes("\"after\""));
    }

    [Fact]
    public void RowBiggerThanOneMebibyteAsFirstAndLastRowComesBackWhole()
    {
        var first = Bytes("[" + string.Join(",", Enumerable.Repeat("1234567", 200_000)) + "]");
        var last = Bytes("\"" + new string('東', 400_000) + "\"");
        Assert.True(first.Length > 1024 * 1024 && last.Length > 1024 * 1024);
        var buffer = new RowBuffer();
        buffer.Append(first);
        buffer.Append(Bytes("0"));
        buffer.Append(last);

        AssertRow(buffer, 0, first);
        AssertRow(buffer, 1, Bytes("0"));
        AssertRow(buffer, 2, last);
    }

    [Fact]
    public void RowThatExactlyFillsTheFirstChunkIsNotMergedWithTheNext()
    {
        // The first chunk is 4 KiB; a 4,096-byte row fills it to the last byte.
        var exact = Bytes("\"" + new string('a', 4094) + "\"");
        var buffer = new RowBuffer();
        buffer.Append(exact);
        buffer.Append(Bytes("\"next\""));

        AssertRow(buffer, 0, exact);
        AssertRow(buffer, 1, Bytes("\"next\""));
    }

    [Fact]
    public void ManySmallRowsOfVaryingLengthComeBackAcrossChunkBoundaries()
    {
        const int count = 200_000;
        static byte[] Row(int i) => Bytes($"{{\"i\":{i},\"pad\":\"{new string((char)('a' + (i % 26)), i % 311)}\",\"u\":\"{(i % 3 == 0 ? "ü東🚀" : "")}\"}}");

        var buffer = new RowBuffer();
        long bytes = 0;
        for (var i = 0; i < count; i++)
        {
            var row = Row(i);
            bytes += row.Length;
            buffer.Append(row);
        }

        Assert.Equal(count, buffer.Count);
        Assert.Equal(bytes, buffer.ByteCount);
        AssertRow(buffer, 0, Row(0));
        AssertRow(buffer, count - 1, Row(count - 1));

        // Around the 65,536-entry index segment edges, and a spread of others.
        long[] edges = [65_535, 65_536, 65_537, 131_071, 131_072, 131_073, 196_607, 196_608];
        foreach (var index in edges.Concat(Enumerable.Range(0, 2_000).Select(k => (long)k * 97 + 13)))
        {
            AssertRow(buffer, index, Row((int)index));
        }

        // Every row, so that no chunk switch goes unchecked.
        for (var i = 0; i < count; i++)
        {
            Assert.True(buffer.Get(i).Span.SequenceEqual(Row(i)), $"Row {i} differs.");
        }
    }

    [Fact]
    public void MillionRowsOfAboutOneHundredBytesAllocateAtMostFifteenPercentOverTheirBytes()
    {
        const int count = 1_000_000;
        var template = Bytes("{\"i\":0000000,\"date\":\"2026-11-29\",\"campaign\":\"Campaign 7\",\"impressions\":123456,\"clicks\":789}");
        Assert.InRange(template.Length, 90, 110);
        var row = new byte[template.Length];

        var buffer = new RowBuffer();
        for (var i = 0; i < count; i++)
        {
            template.CopyTo(row, 0);
            // Vary the digits so that rows differ, keeping each row's length.
            Encoding.ASCII.GetBytes(i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture)).CopyTo(row, 5);
            buffer.Append(row);
        }

        Assert.Equal(count, buffer.Count);
        Assert.Equal((long)count * template.Length, buffer.ByteCount);
        Assert.True(buffer.AllocatedBytes >= buffer.ByteCount, "Rows cannot take less room than their bytes.");
        Assert.True(buffer.AllocatedBytes <= 1.15 * buffer.ByteCount,
            $"AllocatedBytes {buffer.AllocatedBytes:N0} is more than 1.15 × ByteCount {buffer.ByteCount:N0}.");
        Assert.StartsWith("{\"i\":0999999,", StoreTestHelpers.Utf8(buffer.Get(count - 1)), StringComparison.Ordinal);
    }
}
