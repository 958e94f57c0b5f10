using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using QueryStatus.Api.Observability;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Store;

/// <summary>
/// The store's gauges as an operator reads them (the service's meter, tagged with the store), over real HTTP traffic,
/// with the real sweeper on the fake clock: they count what a query left behind, and read zero once it expired and
/// the sweeper ran.
/// </summary>
public sealed class StoreGaugeTests
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    private sealed class Gauges(IServiceProvider services, string store = StoreOptions.InMemoryProvider) : IDisposable
    {
        private readonly Dictionary<string, MetricCollector<long>> _collectors = new[]
            {
                StoreMetrics.SchedulesGauge, StoreMetrics.TasksGauge, StoreMetrics.RowsGauge, StoreMetrics.RowBytesGauge,
                StoreMetrics.LicensesGauge,
            }
            .ToDictionary(name => name, name => new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), Telemetry.MeterName, name));

        /// <summary>Each gauge observed now: its value, asserting it carries the store's tag.</summary>
        public Dictionary<string, long> Read() => _collectors.ToDictionary(c => c.Key, c =>
        {
            c.Value.RecordObservableInstruments();
            var last = c.Value.LastMeasurement ?? throw new Xunit.Sdk.XunitException($"{c.Key} reported nothing.");
            Assert.Equal(store, last.Tags[StoreMetrics.StoreTag]);
            return last.Value;
        });

        public void Dispose()
        {
            foreach (var collector in _collectors.Values)
            {
                collector.Dispose();
            }
        }
    }

    [Fact]
    public async Task GaugesCountWhatQueriesHoldAndReadZeroAfterExpiryAndOneSweep()
    {
        using var factory = new TimerWatchingFactory
        {
            Settings = new Dictionary<string, string?> { ["Store:Retention"] = "00:01:00", ["Store:SweepInterval"] = "00:00:10" },
        };
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        using var gauges = new Gauges(factory.Services);
        await EventuallyAsync(() => factory.Timers.PeriodicTimersCreated(SweepInterval) == 1, "the sweeper's timer");

        var done = await client.SubmitAsync(Subs("done", 2));
        var stopped = await client.SubmitAsync(Subs("stopped", 3));
        var tasks = await worker.LeaseAsync(maxTasks: 10);
        string[] rows = [Row("first"), Row("second"), Row("third")];
        foreach (var task in tasks.Where(t => t.ScheduleId == done))
        {
            await worker.RowsOkAsync(task, 0, rows[..2]);
            await worker.RowsOkAsync(task, 0, rows[..2]);
            await worker.CompleteOkAsync(task, rows[2..]);
        }
        var staging = tasks.First(t => t.ScheduleId == stopped);
        await worker.RowsOkAsync(staging, 0, rows);
        Assert.Equal("SUCCESS", (await client.StatusAsync(done)).StatusCode());

        var bytesPerTask = rows.Sum(r => (long)Encoding.UTF8.GetByteCount(r));
        Assert.Equal(new Dictionary<string, long>
        {
            [StoreMetrics.SchedulesGauge] = 2,
            [StoreMetrics.TasksGauge] = 5,
            [StoreMetrics.RowsGauge] = 3 * 3,
            [StoreMetrics.RowBytesGauge] = 3 * bytesPerTask,
            [StoreMetrics.LicensesGauge] = 1,
        }, gauges.Read());

        Assert.Equal("STOPPED", (await client.StopAsync(stopped)).StatusCode());
        Assert.Equal(2 * 3, gauges.Read()[StoreMetrics.RowsGauge]);

        factory.Time.Advance(TimeSpan.FromMinutes(1));
        await EventuallyAsync(
            () => factory.Logs.Events.Any(e => e.MessageTemplate.Text.StartsWith("Removed {Count} expired schedules", StringComparison.Ordinal)),
            "the sweep's log line");

        Assert.All(gauges.Read(), gauge => Assert.Equal(0, gauge.Value));
        using var expired = await client.GetStatusAsync(done);
        await expired.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    /// <summary>
    /// The PostgreSQL store's gauges report what its last sweep counted: after traffic, one sweep shows what the database
    /// holds; once retention has passed, one more sweep deletes it all and they read zero.
    /// </summary>
    [Fact]
    public async Task PostgresGaugesCountWhatTheDatabaseHoldsAndReadZeroAfterExpiryAndOneSweep()
    {
        using var factory = new TimerWatchingFactory
        {
            Settings = await StoreProviders.SettingsAsync(StoreOptions.PostgresProvider,
                new Dictionary<string, string?> { ["Store:Retention"] = "00:01:00", ["Store:SweepInterval"] = "00:00:10" }),
        };
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        using var gauges = new Gauges(factory.Services, StoreOptions.PostgresProvider);
        await EventuallyAsync(() => factory.Timers.PeriodicTimersCreated(SweepInterval) == 1, "the sweeper's timer");

        var done = await client.SubmitAsync(Subs("done", 2));
        foreach (var task in await worker.LeaseAsync(maxTasks: 10))
        {
            await worker.CompleteOkAsync(task, [Row("a"), Row("b")]);
        }
        Assert.Equal("SUCCESS", (await client.StatusAsync(done)).StatusCode());

        factory.Time.Advance(SweepInterval);
        await EventuallyAsync(() => gauges.Read()[StoreMetrics.SchedulesGauge] == 1, "a sweep's count of the finished query");
        Assert.Equal(2, gauges.Read()[StoreMetrics.TasksGauge]);
        Assert.Equal(4, gauges.Read()[StoreMetrics.RowsGauge]);

        factory.Time.Advance(TimeSpan.FromMinutes(1));
        await EventuallyAsync(() => gauges.Read()[StoreMetrics.SchedulesGauge] == 0, "the sweep after the retention");
        Assert.All(gauges.Read(), gauge => Assert.Equal(0, gauge.Value));
        using var expired = await client.GetStatusAsync(done);
        await expired.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }
}
