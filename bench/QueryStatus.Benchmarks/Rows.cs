using System.Globalization;
using System.Text.Unicode;
using QueryStatus.Api.Store;

namespace QueryStatus.Benchmarks;

/// <summary>The rows the benchmarks store: the same fixed-width shape as the HTTP benchmark's (86 bytes).</summary>
public static class Rows
{
    public static int Write(Span<byte> destination, long index)
    {
        if (!Utf8.TryWrite(destination, CultureInfo.InvariantCulture,
                $"{{\"date\":\"2026-11-{1 + (index % 28):00}\",\"campaign\":\"Campaign {index:D9}\",\"impressions\":{10000 + (index % 90000)},\"clicks\":{100 + (index % 900)}}}",
                out var written))
        {
            throw new InvalidOperationException("row too long");
        }
        return written;
    }

    /// <summary>A row of exactly <paramref name="length"/> bytes: a JSON string of filler around the index.</summary>
    public static int WriteSized(Span<byte> destination, long index, int length)
    {
        var head = Utf8.TryWrite(destination, CultureInfo.InvariantCulture, $"\"{index:D9}", out var written) ? written : throw new InvalidOperationException();
        destination[head..(length - 1)].Fill((byte)'x');
        destination[length - 1] = (byte)'"';
        return length;
    }

    public static RowBuffer Build(long count)
    {
        var buffer = new RowBuffer();
        Span<byte> row = stackalloc byte[128];
        for (long i = 0; i < count; i++)
        {
            buffer.Append(row[..Write(row, i)]);
        }
        return buffer;
    }
}
