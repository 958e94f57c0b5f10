using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Store;

/// <summary>
/// The embedded default store. Each license's schedules sit behind that license's lock, so every
/// operation is atomic and licenses never wait on each other. Progress and queue counters are derived
/// from the sub-query tasks on every read; no count is stored.
/// </summary>
public sealed class InMemoryScheduleStore(TimeProvider time, IOptions<StoreOptions> options) : IScheduleStore
{
    private readonly ConcurrentDictionary<string, LicenseState> _licenses = new(StringComparer.Ordinal);
    private readonly TimeSpan _retention = options.Value.Retention;

    public ValueTask<StatusSnapshot?> GetStatusAsync(
        string licenseId, string scheduleId, PageWindow page, CancellationToken cancellationToken)
    {
        if (!_licenses.TryGetValue(licenseId, out var license))
        {
            return ValueTask.FromResult<StatusSnapshot?>(null);
        }

        lock (license.Gate)
        {
            if (!license.Schedules.TryGetValue(scheduleId, out var schedule))
            {
                return ValueTask.FromResult<StatusSnapshot?>(null);
            }
            var now = time.GetUtcNow();
            if (IsExpired(schedule, now))
            {
                license.Schedules.Remove(scheduleId);
                return ValueTask.FromResult<StatusSnapshot?>(null);
            }
            return ValueTask.FromResult<StatusSnapshot?>(Snapshot(license, schedule, page));
        }
    }

    public ValueTask PutAsync(ScheduleRecord schedule, CancellationToken cancellationToken)
    {
        var problems = schedule.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(
                $"Schedule '{schedule.ScheduleId}' is inconsistent: {string.Join("; ", problems)}.", nameof(schedule));
        }

        var state = new ScheduleState(
            schedule.ScheduleId,
            schedule.Status,
            [.. schedule.SubQueries],
            schedule.Rows,
            schedule.Failure,
            schedule.Status.IsFinished() ? schedule.FinishedAt ?? time.GetUtcNow() : null);

        var license = _licenses.GetOrAdd(schedule.LicenseId, _ => new LicenseState());
        lock (license.Gate)
        {
            license.Schedules[schedule.ScheduleId] = state;
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var removed = 0;
        foreach (var license in _licenses.Values)
        {
            lock (license.Gate)
            {
                removed += license.Schedules.RemoveWhere(s => IsExpired(s, now));
            }
        }
        return ValueTask.FromResult(removed);
    }

    public ValueTask PingAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private bool IsExpired(ScheduleState schedule, DateTimeOffset now) =>
        schedule.FinishedAt is { } finished && now >= finished + _retention;

    private StatusSnapshot Snapshot(LicenseState license, ScheduleState schedule, PageWindow window)
    {
        var ready = 0;
        foreach (var task in schedule.SubQueries)
        {
            if (task == SubQueryState.Done)
            {
                ready++;
            }
        }

        // The license queue is every unfinished schedule's tasks that wait or run.
        var scheduled = 0;
        var running = 0;
        foreach (var other in license.Schedules.Values)
        {
            if (other.Status.IsFinished())
            {
                continue;
            }
            foreach (var task in other.SubQueries)
            {
                if (task == SubQueryState.Queued)
                {
                    scheduled++;
                }
                else if (task == SubQueryState.Running)
                {
                    running++;
                }
            }
        }

        var total = schedule.Status == ScheduleStatus.Success ? schedule.Rows.Count : 0;
        var (start, end) = window.Resolve(total);
        var page = total > 0 ? new RowPage(schedule.Rows, start, end) : RowPage.Empty(start);

        return new StatusSnapshot(
            schedule.ScheduleId,
            schedule.Status,
            ready,
            schedule.SubQueries.Length,
            scheduled,
            running,
            schedule.Failure,
            schedule.FinishedAt + _retention,
            total,
            page);
    }

    private sealed class LicenseState
    {
        public object Gate { get; } = new();
        public Dictionary<string, ScheduleState> Schedules { get; } = new(StringComparer.Ordinal);
    }

    private sealed record ScheduleState(
        string ScheduleId,
        ScheduleStatus Status,
        SubQueryState[] SubQueries,
        RowBuffer Rows,
        Failure? Failure,
        DateTimeOffset? FinishedAt);
}

internal static class DictionaryExtensions
{
    public static int RemoveWhere<TKey, TValue>(this Dictionary<TKey, TValue> dictionary, Func<TValue, bool> predicate)
        where TKey : notnull
    {
        var doomed = dictionary.Where(pair => predicate(pair.Value)).Select(pair => pair.Key).ToList();
        foreach (var key in doomed)
        {
            dictionary.Remove(key);
        }
        return doomed.Count;
    }
}
