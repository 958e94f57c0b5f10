namespace QueryStatus.Api.Store;

/// <summary>
/// Where schedules, their sub-query tasks and their result rows live. Every operation is one atomic
/// unit, so that a networked store can implement the same contract.
/// </summary>
public interface IScheduleStore
{
    /// <summary>
    /// The status of <paramref name="licenseId"/>'s schedule and, when it succeeded, the rows of
    /// <paramref name="page"/>, read as one consistent snapshot. Null when the license has no such
    /// schedule or it has expired.
    /// </summary>
    ValueTask<StatusSnapshot?> GetStatusAsync(string licenseId, string scheduleId, PageWindow page, CancellationToken cancellationToken);

    /// <summary>Writes a whole schedule, replacing any earlier one with the same license and ID.</summary>
    ValueTask PutAsync(ScheduleRecord schedule, CancellationToken cancellationToken);

    /// <summary>Removes finished schedules whose retention has passed; returns how many went.</summary>
    ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken);

    /// <summary>Throws <see cref="StoreUnavailableException"/> when the store cannot serve requests.</summary>
    ValueTask PingAsync(CancellationToken cancellationToken);
}

/// <summary>The rows asked for: <c>[Start, End)</c>; <c>End</c> is null for "up to the page cap".</summary>
public readonly record struct PageWindow(long Start, long? End, int MaxRows)
{
    public (long Start, long End) Resolve(long totalRows)
    {
        // The cap holds here too, not only in the request validator: the store never serves more.
        var end = Math.Min(Math.Min(End ?? long.MaxValue, Start + MaxRows), totalRows);
        return (Start, Math.Max(Start, end));
    }
}

public sealed record StatusSnapshot(
    string ScheduleId,
    ScheduleStatus Status,
    int QueriesReady,
    int QueriesTotal,
    int TasksScheduled,
    int TasksRunning,
    Failure? Failure,
    DateTimeOffset? ExpiresAt,
    long TotalRows,
    RowPage Page);

/// <summary>A window of rows of one result; enumerating it yields each row's bytes without copying.</summary>
public readonly record struct RowPage(RowBuffer Rows, long Start, long End)
{
    public static RowPage Empty(long at) => new(RowBuffer.Empty, at, at);

    public long Count => End - Start;

    public Enumerator GetEnumerator() => new(Rows, Start, End);

    public struct Enumerator(RowBuffer rows, long start, long end)
    {
        private long _next = start;

        public ReadOnlyMemory<byte> Current { get; private set; }

        public bool MoveNext()
        {
            if (_next >= end)
            {
                return false;
            }
            Current = rows.Get(_next++);
            return true;
        }
    }
}

public sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
