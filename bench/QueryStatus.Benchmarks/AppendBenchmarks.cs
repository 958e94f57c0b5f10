using BenchmarkDotNet.Attributes;
using QueryStatus.Api.Store;

namespace QueryStatus.Benchmarks;

/// <summary>
/// Appending rows to a result buffer, per row (OperationsPerInvoke): time, and bytes allocated per row
/// against the row's own 86 bytes (chunks, index and list growth included).
/// </summary>
[MemoryDiagnoser]
public class AppendBenchmarks
{
    private const int Count = 1_000_000;
    private byte[][] _rows = null!;

    [GlobalSetup]
    public void Setup()
    {
        var row = new byte[128];
        _rows = new byte[Count][];
        for (var i = 0; i < Count; i++)
        {
            _rows[i] = row.AsSpan(0, Rows.Write(row, i)).ToArray();
        }
    }

    [Benchmark(OperationsPerInvoke = Count, Description = "append one 86-byte row (1M per invocation)")]
    public long Append()
    {
        var buffer = new RowBuffer();
        foreach (var row in _rows)
        {
            buffer.Append(row);
        }
        return buffer.Count;
    }
}
