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

    /// <summary>The state does not allow it; the outcome's refusal says which state.</summary>
    Conflict,
}

/// <summary>
/// Why a submit or stop did nothing. A code, not wording: every store reports the same codes and the HTTP layer
/// words them, so a second store cannot drift from the first one's sentences.
/// </summary>
public enum RunRefusal
{
    /// <summary>The license has no such schedule, or its results have expired.</summary>
    ScheduleNotFound,

    /// <summary>Submit: an earlier run of the schedule ID has not finished (its status in <see cref="WriteOutcome.RunStatus"/>).</summary>
    RunNotFinished,

    /// <summary>Stop: the run has already finished (its status in <see cref="WriteOutcome.RunStatus"/>).</summary>
    RunAlreadyFinished,
}

/// <summary>Why a call on a leased task did nothing. A code, not wording, as <see cref="RunRefusal"/>.</summary>
public enum TaskRefusal
{
    /// <summary>No such task, or its query's results have expired (or the run was replaced).</summary>
    TaskNotFound,

    /// <summary>The lease ended and the task waits in its queue to be leased again.</summary>
    LeaseExpired,

    /// <summary>The token is not the task's lease: the task was leased again since, or the token never was its.</summary>
    UnknownLease,

    /// <summary>The task is done; whichever lease completed it, nothing more is taken for it.</summary>
    TaskAlreadyCompleted,

    /// <summary>The task's run ended before the task did (its status in <see cref="TaskOutcome.RunStatus"/>: stopped, failed, timed out).</summary>
    QueryEnded,

    /// <summary>The rows would pass the run's row limit; this call failed the run with <c>RESULT_TOO_LARGE</c>.</summary>
    ResultTooLarge,
}

/// <summary>A task's state as a caller of the task calls sees it.</summary>
public enum TaskState
{
    /// <summary>Waiting to be leased (again).</summary>
    Queued,

    /// <summary>Leased; the lease is live.</summary>
    Running,

    Done,

    /// <summary>It will not run again: its run failed (by this task's failure or otherwise), was stopped or timed out.</summary>
    Failed,
}

/// <summary>
/// What a write did: with <see cref="Refusal"/> when it did nothing (and <see cref="RunStatus"/> where the refusal
/// is about the run's status), else the status after it.
/// </summary>
public sealed record WriteOutcome(
    WriteResult Result,
    RunRefusal? Refusal = null,
    StatusSnapshot? Status = null,
    ScheduleStatus? RunStatus = null)
{
    /// <summary>The refusal decides the result, so no store can pair them differently.</summary>
    public static WriteOutcome Refused(RunRefusal refusal, ScheduleStatus? runStatus = null) =>
        new(refusal == RunRefusal.ScheduleNotFound ? WriteResult.NotFound : WriteResult.Conflict, refusal, RunStatus: runStatus);
}

/// <summary>
/// What a task call did: the task's state afterwards and, for a live lease, when it ends; or, refused, why (with the
/// run's status for <see cref="TaskRefusal.QueryEnded"/>).
/// </summary>
public sealed record TaskOutcome(
    WriteResult Result,
    TaskRefusal? Refusal = null,
    TaskState? TaskState = null,
    int Attempt = 0,
    DateTimeOffset? LeaseExpiresAt = null,
    long RowsAccepted = 0,
    ScheduleStatus? RunStatus = null)
{
    /// <summary>The refusal decides the result, so no store can pair them differently.</summary>
    public static TaskOutcome Refused(TaskRefusal refusal, ScheduleStatus? runStatus = null) =>
        new(refusal == TaskRefusal.TaskNotFound ? WriteResult.NotFound : WriteResult.Conflict, refusal, RunStatus: runStatus);
}

public sealed record TaskFailure(string Code, string Message, bool Retryable);
