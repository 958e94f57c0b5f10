using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using QueryStatus.Api.Observability;
using QueryStatus.Api.Store;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;
using Serilog.Events;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// A page the database sent an instance twice is not sent again while its run is the one the poll finds; a page read
/// once is not kept; a page held by one instance never outlives its run, whatever another instance does to the schedule.
/// </summary>
public sealed class PageCacheTests
{
    private static readonly PageWindow FirstTen = new(0, null, 10);

    /// <summary>Two rows from <paramref name="start"/>, as a client paging two at a time asks.</summary>
    private static PageWindow Window(long start) => new(start, start + 2, 10);

    [Fact]
    public async Task APageReadAgainComesFromTheInstanceNotFromTheDatabase()
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        var store = Store(dataSource, time);
        await SucceedAsync(store, "done", ["1", "2", "3"]);
        Assert.Equal(["1", "2", "3"], Rows(await store.GetStatusAsync("lic", "done", FirstTen, CancellationToken.None)));
        Assert.Equal(["1", "2", "3"], Rows(await store.GetStatusAsync("lic", "done", FirstTen, CancellationToken.None)));

        // With the rows gone from the database, only a page held by the instance can still answer.
        await ExecuteAsync(dataSource, "DELETE FROM row_chunks");

        Assert.Equal(["1", "2", "3"], Rows(await store.GetStatusAsync("lic", "done", FirstTen, CancellationToken.None)));
        Assert.Empty(Rows(await Store(dataSource, time).GetStatusAsync("lic", "done", FirstTen, CancellationToken.None)));
    }

    [Theory]
    [InlineData(64, 1)] // read once: not kept yet
    [InlineData(0, 2)] // cache off: read twice, still not kept
    public async Task NoPageIsHeldBeforeItsSecondReadOrWithTheCacheOff(int pageCacheMegabytes, int reads)
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        var store = Store(dataSource, time, pageCacheMegabytes);
        await SucceedAsync(store, "done", ["1", "2", "3"]);
        for (var poll = 0; poll < reads; poll++)
        {
            Assert.Equal(3, Rows(await store.GetStatusAsync("lic", "done", FirstTen, CancellationToken.None)).Count);
        }

        await ExecuteAsync(dataSource, "DELETE FROM row_chunks");

        Assert.Empty(Rows(await store.GetStatusAsync("lic", "done", FirstTen, CancellationToken.None)));
    }

    [Fact]
    public async Task AScheduleSubmittedAgainThroughAnotherInstanceAnswersItsNewRunsRows()
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        var a = Store(dataSource, time);
        var b = Store(dataSource, time);
        await SucceedAsync(b, "again", ["\"old\""]);
        for (var poll = 0; poll < 2; poll++)
        {
            Assert.Equal(["\"old\""], Rows(await a.GetStatusAsync("lic", "again", FirstTen, CancellationToken.None)));
        }

        Assert.Equal(WriteResult.Ok, (await b.SubmitAsync(Submit("again"), CancellationToken.None)).Result);
        var queued = await a.GetStatusAsync("lic", "again", FirstTen, CancellationToken.None);
        Assert.Equal((ScheduleStatus.Queued, 0L), (queued!.Status, queued.Page.Count));

        var task = Assert.Single(await b.LeaseAsync(new LeaseCommand("w", 1, TimeSpan.FromHours(1)), TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(WriteResult.Ok, (await b.CompleteAsync(task.TaskId, task.LeaseToken, Encode(["\"new\"", "\"newer\""]), [], CancellationToken.None)).Result);

        Assert.Equal(["\"new\"", "\"newer\""], Rows(await a.GetStatusAsync("lic", "again", FirstTen, CancellationToken.None)));
    }

    [Fact]
    public async Task AHeldPageIsNotAnsweredOnceItsResultExpired()
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        var store = Store(dataSource, time);
        await SucceedAsync(store, "expiring", ["1"]);
        for (var poll = 0; poll < 2; poll++)
        {
            Assert.Single(Rows(await store.GetStatusAsync("lic", "expiring", FirstTen, CancellationToken.None)));
        }

        time.Advance(TimeSpan.FromMinutes(10));

        Assert.Null(await store.GetStatusAsync("lic", "expiring", FirstTen, CancellationToken.None));
    }

    [Fact]
    public async Task TheCacheReportsPagesAnsweredFromItAndPagesTheDatabaseSent()
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        await using var metrics = Metrics();
        using var hits = Collect(metrics, PageCache.HitsCounter);
        using var misses = Collect(metrics, PageCache.MissesCounter);
        using var bytes = Collect(metrics, PageCache.BytesGauge);
        var store = Store(dataSource, time, meters: metrics.GetRequiredService<IMeterFactory>());
        await SucceedAsync(store, "done", ["\"abc\""]);

        for (var poll = 0; poll < 4; poll++)
        {
            await store.GetStatusAsync("lic", "done", FirstTen, CancellationToken.None);
        }
        await store.GetStatusAsync("lic", "done", new PageWindow(5, null, 10), CancellationToken.None); // past the end: no rows to keep
        bytes.RecordObservableInstruments();

        // Sent twice (read once, then kept), then answered twice from the cache.
        Assert.Equal((2L, 2L), (hits.GetMeasurementSnapshot().Sum(m => m.Value), misses.GetMeasurementSnapshot().Sum(m => m.Value)));
        Assert.InRange(bytes.LastMeasurement!.Value, 5, 5 + 1024);
    }

    [Fact]
    public async Task APageIsDroppedOnceAPollFindsItsRunReplaced()
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        await using var metrics = Metrics();
        using var bytes = Collect(metrics, PageCache.BytesGauge);
        var store = Store(dataSource, time, meters: metrics.GetRequiredService<IMeterFactory>());
        await SucceedAsync(store, "again", ["\"old\""]);
        for (var poll = 0; poll < 2; poll++)
        {
            await store.GetStatusAsync("lic", "again", FirstTen, CancellationToken.None);
        }
        bytes.RecordObservableInstruments();
        Assert.True(bytes.LastMeasurement!.Value > 0);

        Assert.Equal(WriteResult.Ok, (await store.SubmitAsync(Submit("again"), CancellationToken.None)).Result);
        Assert.Equal(ScheduleStatus.Queued, (await store.GetStatusAsync("lic", "again", FirstTen, CancellationToken.None))!.Status);

        bytes.RecordObservableInstruments();
        Assert.Equal(0, bytes.LastMeasurement!.Value);
    }

    [Fact]
    public async Task AClientPagingThroughAResultGetsTheNextPageReadAheadAndOnlyOnce()
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        await using var counted = new Counted(dataSource, time);
        Assert.Equal([["1", "2"], ["3", "4"]], await ReadFirstTwoPagesAsync(counted.Cached, "paged", ["1", "2", "3", "4", "5", "6"]));

        // The second page follows the first: the third is read before it is asked for.
        await counted.ReadAhead.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));
        await ExecuteAsync(dataSource, "DELETE FROM row_chunks");
        Assert.Equal(["5", "6"], Rows(await counted.Cached.GetStatusAsync("lic", "paged", Window(4), CancellationToken.None)));

        // Read once, the page read ahead is gone: a client paging through a result does not fill the cache.
        Assert.Empty(Rows(await counted.Cached.GetStatusAsync("lic", "paged", Window(4), CancellationToken.None)));
        Assert.Equal(0, Sum(counted.Hits));
    }

    [Theory]
    [InlineData(0, 1)] // the second page followed the first: the third was read ahead, and its poll waited for that read
    [InlineData(2, 0)] // the second page alone: nothing was read ahead (the poll would have waited for it)
    public async Task APollOfTheNextPageFindsItReadAheadOnlyAfterAPageThatFollowedAnother(int firstPageAt, long readAhead)
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        await using var counted = new Counted(dataSource, time);
        await SucceedAsync(counted.Cached, "paged", ["1", "2", "3", "4", "5", "6"]);
        for (var at = firstPageAt; at <= 2; at += 2)
        {
            Assert.Equal([$"{at + 1}", $"{at + 2}"], Rows(await counted.Cached.GetStatusAsync("lic", "paged", Window(at), CancellationToken.None)));
        }
        var sentForPolls = Sum(counted.Misses);

        Assert.Equal(["5", "6"], Rows(await counted.Cached.GetStatusAsync("lic", "paged", Window(4), CancellationToken.None)));

        // The database sent the third page once: ahead of its poll, or for it.
        Assert.Equal((readAhead, sentForPolls + 1 - readAhead), (Sum(counted.ReadAhead), Sum(counted.Misses)));
    }

    [Fact]
    public async Task APageReadAheadIsNotAnsweredForTheResultThatReplacedItsRun()
    {
        var (dataSource, time) = await DatabaseAsync();
        await using var _ = dataSource;
        await using var counted = new Counted(dataSource, time);
        await ReadFirstTwoPagesAsync(counted.Cached, "again", ["\"old1\"", "\"old2\"", "\"old3\"", "\"old4\"", "\"old5\"", "\"old6\""]);
        await counted.ReadAhead.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));

        await SucceedAsync(Store(dataSource, time), "again", ["\"new1\"", "\"new2\"", "\"new3\"", "\"new4\"", "\"new5\"", "\"new6\""]);

        Assert.Equal(["\"new5\"", "\"new6\""], Rows(await counted.Cached.GetStatusAsync("lic", "again", Window(4), CancellationToken.None)));
    }

    [Fact]
    public async Task StartUpRefusesANegativePageCache()
    {
        using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Store:Provider"] = "Postgres",
                ["ConnectionStrings:QueryStatus"] = await PostgresServer.CreateDatabaseAsync(),
                ["Store:Postgres:PageCacheMegabytes"] = "-1",
            },
        };

        var error = Record.Exception(() => factory.CreateClient().Dispose());

        Assert.NotNull(error);
        var logged = factory.Logs.Events
            .Where(e => e.Level >= LogEventLevel.Error && e.Exception is not null)
            .Select(e => StoreTestHelpers.MessageChain(e.Exception!));
        Assert.Contains("Store:Postgres:PageCacheMegabytes", string.Join(Environment.NewLine, logged.Prepend(StoreTestHelpers.MessageChain(error))), StringComparison.Ordinal);
    }

    /// <summary>A result of these rows, succeeded, and its first two pages (<see cref="Window"/>) read in turn, as a client paging through it.</summary>
    private static async Task<List<List<string>>> ReadFirstTwoPagesAsync(PostgresScheduleStore store, string scheduleId, string[] rows)
    {
        await SucceedAsync(store, scheduleId, rows);
        return
        [
            Rows(await store.GetStatusAsync("lic", scheduleId, Window(0), CancellationToken.None)),
            Rows(await store.GetStatusAsync("lic", scheduleId, Window(2), CancellationToken.None)),
        ];
    }

    /// <summary>A store, and what its page cache counts: pages answered from it, sent by the database, and read ahead.</summary>
    private sealed class Counted : IAsyncDisposable
    {
        private readonly ServiceProvider _metrics = Metrics();

        public Counted(NpgsqlDataSource dataSource, TimeProvider time)
        {
            Hits = Collect(_metrics, PageCache.HitsCounter);
            Misses = Collect(_metrics, PageCache.MissesCounter);
            ReadAhead = Collect(_metrics, PageCache.ReadAheadCounter);
            Cached = Store(dataSource, time, meters: _metrics.GetRequiredService<IMeterFactory>());
        }

        public PostgresScheduleStore Cached { get; }
        public MetricCollector<long> Hits { get; }
        public MetricCollector<long> Misses { get; }
        public MetricCollector<long> ReadAhead { get; }

        public async ValueTask DisposeAsync()
        {
            Hits.Dispose();
            Misses.Dispose();
            ReadAhead.Dispose();
            await _metrics.DisposeAsync();
        }
    }

    private static long Sum(MetricCollector<long> counter) => counter.GetMeasurementSnapshot().Sum(m => m.Value);

    private static async Task<(NpgsqlDataSource, FakeTimeProvider)> DatabaseAsync()
    {
        var dataSource = await StoreTestHelpers.MigratedDataSourceAsync();
        return (dataSource, new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero)));
    }

    private static PostgresScheduleStore Store(NpgsqlDataSource dataSource, TimeProvider time, int pageCacheMegabytes = 64, IMeterFactory? meters = null) =>
        new(dataSource, time,
            Options.Create(new StoreOptions { Retention = TimeSpan.FromMinutes(5), Postgres = { PageCacheMegabytes = pageCacheMegabytes } }),
            Options.Create(new SchedulerOptions()), meters: meters);

    private static ServiceProvider Metrics() => new ServiceCollection().AddMetrics().BuildServiceProvider();

    private static MetricCollector<long> Collect(ServiceProvider metrics, string instrument) =>
        new(metrics.GetRequiredService<IMeterFactory>(), Telemetry.MeterName, instrument);

    private static SubmitCommand Submit(string scheduleId) => new("lic", scheduleId, [Encoding.UTF8.GetBytes("{}")], null);

    private static ReadOnlyMemory<byte>[] Encode(string[] rows) => [.. rows.Select(r => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(r))];

    private static Task SucceedAsync(IScheduleStore store, string scheduleId, string[] rows) =>
        StoreTestHelpers.SucceedAsync(store, scheduleId, Encode(rows));

    private static List<string> Rows(StatusSnapshot? snapshot)
    {
        Assert.NotNull(snapshot);
        Assert.Equal(ScheduleStatus.Success, snapshot.Status);
        var rows = new List<string>();
        foreach (var row in snapshot.Page)
        {
            rows.Add(Encoding.UTF8.GetString(row.Span));
        }
        return rows;
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
