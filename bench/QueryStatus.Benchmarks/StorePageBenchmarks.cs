using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Store;

namespace QueryStatus.Benchmarks;

/// <summary>
/// Serving a page from a 10,000,000-row result: the store's snapshot plus writing the rows the way
/// StatusResult does (the page's segments copied between the writer's brackets). The first and the last 100-row page should cost
/// the same, and a 10,000-row page should allocate no more than a 100-row one (nothing per row).
/// </summary>
[MemoryDiagnoser]
public class StorePageBenchmarks
{
    private const string License = "lic_bench";
    private const string Schedule = "big";
    private const long TotalRows = 10_000_000;

    private InMemoryScheduleStore _store = null!;
    private ArrayBufferWriter<byte> _sink = null!;
    private Utf8JsonWriter _json = null!;

    [GlobalSetup]
    public void Setup()
    {
        _store = new InMemoryScheduleStore(
            TimeProvider.System,
            Options.Create(new StoreOptions { Retention = TimeSpan.FromDays(1) }),
            Options.Create(new SchedulerOptions { MaxRowsPerRun = TotalRows }));
        var record = new ScheduleRecord(Schedule, License, ScheduleStatus.Success, [SubQueryState.Done], Rows.Build(TotalRows), null, null);
        _store.PutAsync(record, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _sink = new ArrayBufferWriter<byte>(2 * 1024 * 1024);
        _json = new Utf8JsonWriter(_sink, new JsonWriterOptions { SkipValidation = true, Encoder = ErrorEnvelope.WriterOptions.Encoder });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _json.Dispose();
        _store = null!;
        GC.Collect();
    }

    [Benchmark(Baseline = true, Description = "100 rows at offset 0")]
    public int FirstPage() => Read(0, 100);

    [Benchmark(Description = "100 rows at offset 9,999,900")]
    public int LastPage() => Read(TotalRows - 100, 100);

    [Benchmark(Description = "10,000 rows at offset 0")]
    public int BigPage() => Read(0, 10_000);

    private int Read(long start, int rows)
    {
        var snapshot = _store.GetStatusAsync(License, Schedule, new PageWindow(start, start + rows, 10_000), CancellationToken.None)
            .GetAwaiter().GetResult()!;
        // As StatusResult writes a page: the writer opens and closes the array, the rows are copied in between.
        _sink.ResetWrittenCount();
        _json.Reset(_sink);
        _json.WriteStartArray();
        _json.Flush();
        foreach (var segment in snapshot.Page.Segments)
        {
            _sink.Write(segment.Span);
        }
        _json.WriteEndArray();
        _json.Flush();
        return _sink.WrittenCount;
    }
}
