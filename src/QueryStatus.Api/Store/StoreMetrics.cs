using System.Diagnostics.Metrics;
using QueryStatus.Api.Observability;

namespace QueryStatus.Api.Store;

/// <summary>
/// Gauges of what the store holds, on the service's meter, tagged with the store's provider: an operator (or
/// the soak benchmark) sees whether expired queries are given back, without a heap dump.
/// </summary>
public sealed class StoreMetrics
{
    public const string SchedulesGauge = "querystatus.store.schedules";
    public const string TasksGauge = "querystatus.store.tasks";
    public const string RowsGauge = "querystatus.store.rows";
    public const string RowBytesGauge = "querystatus.store.row_bytes";
    public const string LicensesGauge = "querystatus.store.licenses";
    public const string StoreTag = "store";

    private readonly IScheduleStore _store;

    public StoreMetrics(IScheduleStore store, IMeterFactory meters)
    {
        _store = store;
        var meter = meters.Create(Telemetry.MeterName);
        var tag = new KeyValuePair<string, object?>(StoreTag, store.Provider);

        // Each gauge takes its own reading: observers may read any subset, in any order, at any interval.
        void Gauge(string name, Func<StoreHoldings, long> pick, string unit, string description) =>
            meter.CreateObservableGauge(name, () => new Measurement<long>(pick(store.Holdings()), tag), unit, description);

        Gauge(SchedulesGauge, h => h.Schedules, "{schedule}", "Schedules held: unfinished ones, and finished ones until their retention passes.");
        Gauge(TasksGauge, h => h.Tasks, "{task}", "Sub-query tasks held, of every schedule held.");
        Gauge(RowsGauge, h => h.Rows, "{row}", "Result rows held, staged ones included.");
        Gauge(RowBytesGauge, h => h.RowBytes, "By", "UTF-8 bytes of the result rows held, staged ones included.");
        Gauge(LicensesGauge, h => h.Licenses, "{license}", "Licenses with any schedule held.");
    }

    /// <summary>What the gauges would read now.</summary>
    public StoreHoldings Read() => _store.Holdings();
}
