namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// Rows on their way from a worker into a run's result. A worker may send a batch twice (a retry after a lost answer),
/// and an attempt may end without completing, so a running task's batches wait beside the result, recorded by number:
/// a repeated number is recognised and not added again, an attempt that ends leaves nothing behind, and only completion
/// moves the rows into the result. Tasks complete in any order; when the run succeeds, the result is put in sub-query
/// order. The one size rule, <see cref="SchedulerOptions.MaxRowsPerRun"/>, counts committed and staged rows together.
/// </summary>
internal sealed class RowStaging(SchedulerOptions scheduler)
{
    /// <summary>True when the task staged <paramref name="batch"/> under its current lease already.</summary>
    public static bool HasBatch(WorkItem item, long batch) => item.Batches?.ContainsKey(batch) == true;

    /// <summary>Stages one batch of a running task; the caller has checked it is new and within the size rule.</summary>
    public static void Stage(WorkItem item, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows)
    {
        item.Batches ??= [];
        item.Staging ??= new RowBuffer();
        item.Batches.Add(batch, new StagedBatch(item.Staging.Count, rows.Count));
        foreach (var row in rows)
        {
            item.Staging.Append(row.Span);
        }
    }

    /// <summary>True when <paramref name="adding"/> more rows would take the run past the most one query may return.</summary>
    public bool Exceeds(Run run, int adding)
    {
        var staged = 0L;
        foreach (var item in run.License.Running)
        {
            if (item.Run == run)
            {
                staged += item.Staging?.Count ?? 0;
            }
        }
        return run.Result.Count + staged + adding > scheduler.MaxRowsPerRun;
    }

    /// <summary>Why a run that <see cref="Exceeds"/> the size rule fails.</summary>
    public Failure TooLarge() => Failure.ResultTooLarge(scheduler.MaxRowsPerRun);

    /// <summary>Moves a completing task's staged rows, then <paramref name="rows"/>, into its run's result.</summary>
    public static void Commit(WorkItem item, IReadOnlyList<ReadOnlyMemory<byte>> rows)
    {
        var run = item.Run;
        // The task's rows join the result now: its batches by batch number, whatever order they arrived in (each
        // batch's rows were staged together), then the complete call's rows. Finish puts the tasks in sub-query order.
        item.ResultStart = run.Result.Count;
        if (item.Staging is { } staged)
        {
            if (StagedInBatchOrder(item.Batches!))
            {
                // The usual case: the staged rows already are the task's rows in order, and their memory moves as it is.
                run.Result.MoveFrom(staged);
            }
            else
            {
                foreach (var (_, range) in item.Batches!)
                {
                    run.Result.AppendRange(staged, range.Start, range.Start + range.Count);
                }
            }
        }
        foreach (var row in rows)
        {
            run.Result.Append(row.Span);
        }
        item.ResultCount = run.Result.Count - item.ResultStart;
        run.InCreationOrder &= item.Index > run.LastCommittedIndex;
        run.LastCommittedIndex = Math.Max(run.LastCommittedIndex, item.Index);
    }

    /// <summary>Whether the batches were staged in the order of their numbers (each one's rows right after the previous one's).</summary>
    private static bool StagedInBatchOrder(SortedList<long, StagedBatch> batches)
    {
        var next = 0L;
        foreach (var range in batches.Values)
        {
            if (range.Start != next)
            {
                return false;
            }
            next += range.Count;
        }
        return true;
    }

    /// <summary>Drops what a task staged under a lease that ended.</summary>
    public static void Discard(WorkItem item)
    {
        item.Staging = null;
        item.Batches = null;
    }

    /// <summary>The result a run ends with: its tasks' rows in sub-query order on success, nothing otherwise.</summary>
    public static void Seal(Run run, ScheduleStatus status)
    {
        if (status == ScheduleStatus.Success && !run.InCreationOrder)
        {
            var ordered = new RowBuffer();
            foreach (var item in run.Tasks)
            {
                ordered.AppendRange(run.Result, item.ResultStart, item.ResultStart + item.ResultCount);
            }
            run.Result = ordered;
        }
        else if (status != ScheduleStatus.Success)
        {
            run.Result = RowBuffer.Empty; // Only a success serves rows; the memory goes now, not at expiry.
        }
        if (status == ScheduleStatus.Success)
        {
            // No more rows: the buffer gives back its unused tail before any reader can see it.
            run.Result.Trim();
        }
    }

    /// <summary>Rows and bytes staged by running tasks, for the store's holdings.</summary>
    public static (long Rows, long Bytes) Held(LicenseQueues queues)
    {
        long rows = 0, bytes = 0;
        // Only a running task stages rows (ending an attempt discards them).
        foreach (var license in queues.All)
        {
            foreach (var item in license.Running)
            {
                rows += item.Staging?.Count ?? 0;
                bytes += item.Staging?.ByteCount ?? 0;
            }
        }
        return (rows, bytes);
    }
}

/// <summary>Where one staged batch's rows lie in its task's staging buffer.</summary>
internal readonly record struct StagedBatch(long Start, int Count);
