using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store;

/// <summary>
/// A finished result gives back the unused ends of its last chunk and index segment: small results no longer
/// carry a 512 KiB index and a half-empty chunk. Rows are unchanged, and appending after a trim still works.
/// </summary>
public sealed class RowBufferTrimTests
{
    private static byte[] Row(int i) => Encoding.UTF8.GetBytes($"{{\"date\":\"2026-11-{1 + (i % 28):00}\",\"campaign\":\"Campaign {i:D9}\",\"impressions\":{10000 + i},\"clicks\":{i % 900}}}");

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(10_000)]
    [InlineData(70_000)]
    public void TrimmedResultHoldsItsRowsAndTheirIndexOnly(int count)
    {
        var buffer = new RowBuffer();
        for (var i = 0; i < count; i++)
        {
            buffer.Append(Row(i));
        }

        buffer.Trim();

        // Rows' bytes, a stored comma and 8 bytes of index per row, and less than one row wasted at the end of each full chunk.
        var chunks = (int)Math.Ceiling(Math.Log2(Math.Max(2, buffer.ByteCount / 2048.0))) + (int)(buffer.ByteCount / (1024 * 1024));
        Assert.InRange(buffer.AllocatedBytes, buffer.ByteCount + (9 * count), buffer.ByteCount + (9 * count) + (chunks * 120L));
        if (count >= 100)
        {
            Assert.True(buffer.AllocatedBytes <= 1.15 * buffer.ByteCount, $"{buffer.AllocatedBytes:N0} allocated for {buffer.ByteCount:N0} bytes of rows");
        }
        for (var i = 0; i < count; i += Math.Max(1, count / 50))
        {
            Assert.True(buffer.Get(i).Span.SequenceEqual(Row(i)), $"row {i} changed");
        }
        Assert.True(buffer.Get(count - 1).Span.SequenceEqual(Row(count - 1)));
    }

    [Fact]
    public void AppendingAfterATrimStillWorks()
    {
        var buffer = new RowBuffer();
        for (var i = 0; i < 1500; i++)
        {
            buffer.Append(Row(i));
        }
        buffer.Trim();
        for (var i = 1500; i < 70_000; i++)
        {
            buffer.Append(Row(i));
        }
        buffer.Trim();
        buffer.Trim();

        Assert.Equal(70_000, buffer.Count);
        foreach (var i in new[] { 0, 1023, 1024, 1499, 1500, 1501, 65_535, 65_536, 69_999 })
        {
            Assert.True(buffer.Get(i).Span.SequenceEqual(Row(i)), $"row {i} changed");
        }
    }

    [Fact]
    public async Task StoreTrimsAResultWhenItsRunSucceeds()
    {
        var store = new InMemoryScheduleStore(TimeProvider.System, Options.Create(new StoreOptions()));
        var rows = new RowBuffer();
        for (var i = 0; i < 2000; i++)
        {
            rows.Append(Row(i));
        }
        var callers = rows.AllocatedBytes;

        await store.PutAsync(new ScheduleRecord("done", "lic_trim", ScheduleStatus.Success, [SubQueryState.Done], rows, null, null), CancellationToken.None);

        // The store trims its own copy, seen through the chunks a page's segments lie in: the rows' bytes and their
        // commas, no empty tail. Untrimmed, the last chunk would be a doubling half full (about 1.5 times the rows).
        var status = await store.GetStatusAsync("lic_trim", "done", new PageWindow(0, null, 2000), CancellationToken.None);
        var chunks = status!.Page.Segments
            .Select(segment => MemoryMarshal.TryGetArray(segment, out var chunk) ? chunk : throw new InvalidOperationException("Not array-backed."))
            .ToList();
        var last = chunks[^1];
        Assert.Equal(last.Offset + last.Count + 1, last.Array!.Length); // + 1: the last row's stored comma
        var allocated = chunks.Select(c => c.Array!).Distinct().Sum(array => (long)array.Length);
        Assert.True(allocated <= 1.15 * rows.ByteCount, $"{allocated:N0} allocated for {rows.ByteCount:N0} bytes of rows");
        Assert.Equal(callers, rows.AllocatedBytes); // the caller's buffer is left as it was
    }
}
