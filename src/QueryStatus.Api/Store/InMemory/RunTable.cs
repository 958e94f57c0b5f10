using System.Diagnostics.CodeAnalysis;

namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// The runs the store holds, by (license, schedule id), and their tasks, by task id: what a request names is looked up
/// here, and what a reader sees of a run is computed here from the run as it is. A snapshot is read on every status poll,
/// so it is built from the live collections (no stored counter to keep in step) and copies no rows: its page is segments
/// of the run's result buffer, which no longer changes once the run has succeeded. The retention rule lives here too,
/// because a reader must see a run gone at the instant its retention ends, before the sweep removes it.
/// </summary>
internal sealed class RunTable(TimeProvider time, TimeSpan retention, LicenseQueues queues)
{
    private readonly Dictionary<(string License, string Schedule), Run> _runs = [];
    private readonly Dictionary<string, WorkItem> _tasks = new(StringComparer.Ordinal);

    public int Count => _runs.Count;
    public int TaskCount => _tasks.Count;

    public bool TryGet(string licenseId, string scheduleId, [MaybeNullWhen(false)] out Run run) =>
        _runs.TryGetValue((licenseId, scheduleId), out run);

    /// <summary>Like <see cref="TryGet"/>, but a finished run past its retention reads as gone even before it is removed.</summary>
    public bool TryGetUnexpired(string licenseId, string scheduleId, [MaybeNullWhen(false)] out Run run) =>
        _runs.TryGetValue((licenseId, scheduleId), out run)
        && !(ExpiresAt(run) is { } expires && expires <= time.GetUtcNow());

    public bool TryGetTask(string taskId, [MaybeNullWhen(false)] out WorkItem item) => _tasks.TryGetValue(taskId, out item);

    /// <summary>When a run that finished at <paramref name="finishedAt"/> is gone.</summary>
    public DateTimeOffset RetainedUntil(DateTimeOffset finishedAt) => finishedAt + retention;

    /// <summary>When the run is gone: null until it finished.</summary>
    public DateTimeOffset? ExpiresAt(Run run) => run.FinishedAt is { } finished ? RetainedUntil(finished) : null;

    public Run Add(string licenseId, string scheduleId)
    {
        var run = new Run(licenseId, scheduleId, queues.Join(licenseId));
        _runs[(licenseId, scheduleId)] = run;
        return run;
    }

    public WorkItem AddTask(Run run, ReadOnlyMemory<byte> payload)
    {
        var item = new WorkItem("t_" + RandomIds.UrlSafe(18), run, run.Tasks.Count, payload);
        run.Tasks.Add(item);
        _tasks[item.Id] = item;
        return item;
    }

    /// <summary>Forgets a finished run, its tasks and, with its license's last run, the license.</summary>
    public void Remove(Run run)
    {
        _runs.Remove((run.LicenseId, run.ScheduleId));
        foreach (var item in run.Tasks)
        {
            _tasks.Remove(item.Id);
        }
        queues.Leave(run.License);
    }

    /// <summary>Gives back the tables' unused room after a burst has expired.</summary>
    public void TrimWhenSparse()
    {
        // Dictionaries keep their peak size; after a burst has expired, an idle instance gives the tables back too.
        TrimWhenSparse(_runs);
        TrimWhenSparse(_tasks);
    }

    /// <summary>Rows and bytes held in the runs' results, for the store's holdings.</summary>
    public (long Rows, long Bytes) ResultsHeld()
    {
        long rows = 0, bytes = 0;
        foreach (var run in _runs.Values)
        {
            rows += run.Result.Count;
            bytes += run.Result.ByteCount;
        }
        return (rows, bytes);
    }

    public StatusSnapshot Snapshot(Run run, PageWindow window)
    {
        var ready = 0;
        foreach (var item in run.Tasks)
        {
            if (item.State == ItemState.Done)
            {
                ready++;
            }
        }
        var total = run.Status == ScheduleStatus.Success ? run.Result.Count : 0;
        var (start, end) = window.Resolve(total);
        return new StatusSnapshot(
            run.ScheduleId,
            run.Status,
            ready,
            run.Tasks.Count,
            run.License.Queued.Count,
            run.License.Running.Count,
            run.Failure,
            ExpiresAt(run),
            total,
            new RowPage(start, end, run.Result.Segments(start, end)));
    }

    private static void TrimWhenSparse<TKey, TValue>(Dictionary<TKey, TValue> table) where TKey : notnull
    {
        if (table.Capacity > 1024 && table.Count < table.Capacity / 4)
        {
            table.TrimExcess();
        }
    }
}
