using System.Globalization;
using QueryStatus.Api.Store;

namespace QueryStatus.Benchmarks;

/// <summary>
/// What the store holds per row against the rows' raw UTF-8 bytes: the managed heap grown by a finished
/// result buffer (appended, then trimmed as the store does when a run succeeds; GC.GetTotalMemory after a
/// full collection), for several row sizes and counts. The last column is the buffer's own count before the
/// trim, i.e. while a run is still receiving rows.
/// </summary>
public static class MemoryReport
{
    public static void Run(TextWriter output)
    {
        output.WriteLine("| rows | row bytes (raw UTF-8) | raw MiB | held MiB (heap growth) | held / raw | allocated / raw before the trim |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var (count, size) in new (long, int)[]
                 {
                     (10_000_000, 86), (1_000_000, 86), (10_000, 86),
                     (1_000_000, 30), (1_000_000, 60), (1_000_000, 200), (1_000_000, 1000),
                 })
        {
            var (raw, held, allocated) = Measure(count, size);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {count:N0} | {size} | {raw / 1048576.0:F1} | {held / 1048576.0:F1} | {(double)held / raw:F3} | {(double)allocated / raw:F3} |"));
        }
    }

    private static (long Raw, long Held, long Allocated) Measure(long count, int size)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var buffer = new RowBuffer();
        Span<byte> row = stackalloc byte[Math.Max(size, 128)];
        for (long i = 0; i < count; i++)
        {
            var length = size == 86 ? Rows.Write(row, i) : Rows.WriteSized(row, i, size);
            buffer.Append(row[..length]);
        }
        var untrimmed = buffer.AllocatedBytes;
        buffer.Trim();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var result = (buffer.ByteCount, after - before, untrimmed);
        GC.KeepAlive(buffer);
        return result;
    }
}
