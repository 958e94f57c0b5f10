namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// One sub-query of a run (a task) and where it is in its life. A task is in exactly one place at a time, named by
/// <see cref="State"/>: waiting for its run's start, in its license's queue, leased, done, or dropped with its run. The
/// fields of each place (queue node, lease, staged rows, its slice of the result) live here so that moving a task
/// between places allocates nothing and removing it is O(1).
/// </summary>
internal sealed class WorkItem
{
    public WorkItem(string id, Run run, int index, ReadOnlyMemory<byte> payload)
    {
        Id = id;
        Run = run;
        Index = index;
        Payload = payload;
        QueueNode = new LinkedListNode<WorkItem>(this);
    }

    public string Id { get; }
    public Run Run { get; }

    /// <summary>Position among the run's sub-queries, in creation order: the order of the result.</summary>
    public int Index { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Its place in the license queue while queued: removal is O(1) when a run ends.</summary>
    public LinkedListNode<WorkItem> QueueNode { get; }

    public ItemState State { get; set; } = ItemState.Pending;
    public int Attempt { get; set; }
    public string? LeaseToken { get; set; }
    public DateTimeOffset LeaseExpiresAt { get; set; }
    public string? WorkerId { get; set; }
    public RowBuffer? Staging { get; set; }

    /// <summary>The batches staged under the current lease, by batch number: where each one's rows lie in <see cref="Staging"/>.</summary>
    public SortedList<long, StagedBatch>? Batches { get; set; }
    public string? CompletedToken { get; set; }
    public long ResultStart { get; set; }
    public long ResultCount { get; set; }
}

internal enum ItemState
{
    /// <summary>Its run waits for its start time; not in any queue yet.</summary>
    Pending,
    Queued,
    Running,
    Done,

    /// <summary>Its run ended before it did (stopped, failed, timed out).</summary>
    Dropped,
}
