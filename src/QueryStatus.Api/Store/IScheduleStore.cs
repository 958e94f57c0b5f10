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
    /// schedule or its retention has passed (to the instant, swept or not). A read changes nothing: other deadlines
    /// show once a write or <see cref="RemoveExpiredAsync"/> has applied them.
    /// </summary>
    ValueTask<StatusSnapshot?> GetStatusAsync(string licenseId, string scheduleId, PageWindow page, CancellationToken cancellationToken);

    /// <summary>Writes a whole schedule, replacing any earlier one with the same license and ID.</summary>
    ValueTask PutAsync(ScheduleRecord schedule, CancellationToken cancellationToken);

    /// <summary>
    /// The time step (the sweeper calls it; writes apply the same before they act): applies what time has made due,
    /// each as of its due time (queues runs whose start time came, returns expired leases to their queues, fails
    /// runs past their maximum run time) and removes finished schedules whose retention has passed; returns how
    /// many schedules went.
    /// </summary>
    ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts a run of <see cref="SubmitCommand.ScheduleId"/> for the license: <c>Ok</c> with its status,
    /// or <see cref="RunRefusal.RunNotFinished"/> while an earlier run of that ID has not finished. A finished earlier run and
    /// its results are replaced.
    /// </summary>
    ValueTask<WriteOutcome> SubmitAsync(SubmitCommand command, CancellationToken cancellationToken);

    /// <summary>
    /// Stops a run: queued tasks dropped, running ones abandoned. <see cref="RunRefusal.RunAlreadyFinished"/> if it already
    /// finished, <see cref="RunRefusal.ScheduleNotFound"/> if the license has no such run.
    /// </summary>
    ValueTask<WriteOutcome> StopAsync(string licenseId, string scheduleId, CancellationToken cancellationToken);

    /// <summary>
    /// Leases up to <see cref="LeaseCommand.MaxTasks"/> ready tasks: FIFO within a license, round-robin
    /// across licenses, never past a license's concurrency limit. When none is ready, waits up to
    /// <paramref name="wait"/> for one (without spinning).
    /// </summary>
    ValueTask<IReadOnlyList<LeasedTask>> LeaseAsync(LeaseCommand command, TimeSpan wait, CancellationToken cancellationToken);

    ValueTask<TaskOutcome> HeartbeatAsync(string taskId, string leaseToken, TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>Stages rows of a running task; a repeated <paramref name="batch"/> under the same lease is acknowledged once more and adds nothing.</summary>
    ValueTask<TaskOutcome> AppendRowsAsync(string taskId, string leaseToken, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows, CancellationToken cancellationToken);

    /// <summary>Seals a task: its rows join the result, new sub-queries join the run. Repeating it with the same token is a no-op.</summary>
    ValueTask<TaskOutcome> CompleteAsync(string taskId, string leaseToken, IReadOnlyList<ReadOnlyMemory<byte>> rows, IReadOnlyList<ReadOnlyMemory<byte>> subQueries, CancellationToken cancellationToken);

    /// <summary>Reports a failed attempt: retried while retryable and attempts remain, else the run fails.</summary>
    ValueTask<TaskOutcome> FailAsync(string taskId, string leaseToken, TaskFailure failure, CancellationToken cancellationToken);

    /// <summary>Throws <see cref="StoreUnavailableException"/> when the store cannot serve requests.</summary>
    ValueTask PingAsync(CancellationToken cancellationToken);

    /// <summary>The store's name in configuration and on its metrics (<c>InMemory</c>).</summary>
    string Provider { get; }

    /// <summary>
    /// What the store holds now, for its gauges. Cheap and synchronous (gauges are read on the observer's
    /// thread): the in-memory store counts under its lock; a networked store reports what it last measured.
    /// </summary>
    StoreHoldings Holdings();
}

/// <summary>
/// Everything a store holds: schedules (unfinished, and finished ones until their retention passes), their
/// sub-query tasks, result and staged rows with their UTF-8 bytes, and licenses with any state.
/// </summary>
public readonly record struct StoreHoldings(long Schedules, long Tasks, long Rows, long RowBytes, long Licenses);

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

/// <summary>
/// A window of rows <c>[Start, End)</c> of one result, as the bytes of a JSON array's elements: the rows exactly as
/// the workers sent them, separated by commas, in one or more read-only segments whose concatenation is
/// <c>row,row,…,row</c> (empty for an empty window). Each segment holds whole rows, so a response is the segments
/// copied in order between <c>[</c> and <c>]</c>, and a store can hand out its stored bytes without parsing them.
/// </summary>
/// <remarks>
/// A value: a store hands out segments that nothing changes afterwards (the in-memory store's chunks of a finished
/// result, a networked store's bytes read for this page), never a structure it still writes to.
/// </remarks>
public readonly struct RowPage
{
    private readonly ReadOnlyMemory<byte>[]? _segments;

    public RowPage(long start, long end, ReadOnlyMemory<byte>[] segments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(end, start);
        Start = start;
        End = end;
        _segments = segments;
        foreach (var segment in segments)
        {
            ByteCount += segment.Length;
        }
    }

    public static RowPage Empty(long at) => new(at, at, []);

    public long Start { get; }

    public long End { get; }

    public long Count => End - Start;

    /// <summary>The bytes of all segments together: what goes between the array's brackets.</summary>
    public long ByteCount { get; }

    public IReadOnlyList<ReadOnlyMemory<byte>> Segments => _segments ?? [];

    /// <summary>
    /// Each row's bytes, found by reading the elements once more (for callers that need rows one by one: indented
    /// output, tests). The compact response copies <see cref="Segments"/> instead.
    /// </summary>
    public IEnumerator<ReadOnlyMemory<byte>> GetEnumerator()
    {
        if (ByteCount == 0)
        {
            yield break;
        }
        var array = new byte[ByteCount + 2];
        array[0] = (byte)'[';
        var at = 1;
        foreach (var segment in Segments)
        {
            segment.Span.CopyTo(array.AsSpan(at));
            at += segment.Length;
        }
        array[at] = (byte)']';

        var rows = new List<ReadOnlyMemory<byte>>();
        var reader = new System.Text.Json.Utf8JsonReader(array);
        reader.Read(); // [
        while (reader.Read() && reader.TokenType != System.Text.Json.JsonTokenType.EndArray)
        {
            var from = (int)reader.TokenStartIndex;
            reader.Skip();
            rows.Add(array.AsMemory(from, (int)reader.BytesConsumed - from));
        }
        foreach (var row in rows)
        {
            yield return row;
        }
    }
}

/// <summary>The store cannot be reached: the request answers 503; <paramref name="message"/> goes to the log only.</summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null)
    : Errors.UnavailableException("The schedule store cannot be reached. Retry later.", message, inner);
