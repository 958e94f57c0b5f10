namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// One query as the in-memory store holds it: its state, its tasks in creation order and its committed rows. It stores
/// no counter that could drift from the truth: progress is a count over <see cref="Tasks"/>, the queue counters are the
/// sizes of its license's collections, so a snapshot is right by construction. The parts of the store change it only
/// under the store's lock.
/// </summary>
internal sealed class Run(string licenseId, string scheduleId, LicenseQueue license)
{
    public string LicenseId { get; } = licenseId;
    public string ScheduleId { get; } = scheduleId;
    public LicenseQueue License { get; } = license;
    public List<WorkItem> Tasks { get; } = [];
    public ScheduleStatus Status { get; set; }
    public Failure? Failure { get; set; }
    public DateTimeOffset? QueuedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>Committed rows; in completion order until the run succeeds.</summary>
    public RowBuffer Result { get; set; } = new();

    public bool InCreationOrder { get; set; } = true;
    public int LastCommittedIndex { get; set; } = -1;
}
