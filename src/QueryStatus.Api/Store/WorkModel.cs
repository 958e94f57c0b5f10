namespace QueryStatus.Api.Store;

/// <summary>A new run: its sub-query payloads (opaque UTF-8 JSON) and an optional start time.</summary>
public sealed record SubmitCommand(
    string LicenseId,
    string ScheduleId,
    IReadOnlyList<ReadOnlyMemory<byte>> SubQueries,
    DateTimeOffset? NotBefore);

public sealed record LeaseCommand(string WorkerId, int MaxTasks, TimeSpan LeaseDuration);

/// <summary>A task handed to a worker: everything it needs to run it and report back.</summary>
public sealed record LeasedTask(
    string TaskId,
    string ScheduleId,
    string LicenseId,
    ReadOnlyMemory<byte> Payload,
    int Attempt,
    string LeaseToken,
    DateTimeOffset LeaseExpiresAt);

public enum WriteResult
{
    Ok,

    /// <summary>The call repeated one already applied (same batch, same completion): acknowledged, nothing changed.</summary>
    Duplicate,

    /// <summary>No such schedule or task for the caller.</summary>
    NotFound,

    /// <summary>The state does not allow it: run not finished (submit), already finished (stop), stale or unknown lease token.</summary>
    Conflict,
}

/// <summary>What a write did, with why when it did nothing, and the status after it where there is one.</summary>
public sealed record WriteOutcome(WriteResult Result, string? Reason = null, StatusSnapshot? Status = null)
{
    public static WriteOutcome NotFound(string reason) => new(WriteResult.NotFound, reason);

    public static WriteOutcome Conflict(string reason) => new(WriteResult.Conflict, reason);
}

/// <summary>What a task call did: the task's state afterwards and, for a live lease, when it ends.</summary>
public sealed record TaskOutcome(
    WriteResult Result,
    string? Reason = null,
    string? TaskState = null,
    int Attempt = 0,
    DateTimeOffset? LeaseExpiresAt = null,
    long RowsAccepted = 0)
{
    public static TaskOutcome NotFound(string reason) => new(WriteResult.NotFound, reason);

    public static TaskOutcome Conflict(string reason) => new(WriteResult.Conflict, reason);
}

public sealed record TaskFailure(string Code, string Message, bool Retryable);
