namespace QueryStatus.Api.Store;

/// <summary>The states of a query run, with the names the API reports in <c>meta.status_code</c>.</summary>
public enum ScheduleStatus
{
    Scheduled,
    Queued,
    Running,
    Success,
    Failure,
    Stopped,
}

/// <summary>The state of one sub-query task.</summary>
public enum SubQueryState
{
    /// <summary>Waiting in its license's queue.</summary>
    Queued,
    Running,
    Done,
}

public sealed record Failure(string Code, string Message)
{
    // The failures a store decides itself (a worker's own failure carries the worker's code and message): written here
    // once, so that every store reports them alike.

    /// <summary>The run was still unfinished <paramref name="maxRunTime"/> after it was queued.</summary>
    public static Failure QueryTimeout(TimeSpan maxRunTime) =>
        new("QUERY_TIMEOUT", $"The query did not finish within the maximum run time ({maxRunTime}).");

    /// <summary>A task's lease expired on its last attempt.</summary>
    public static Failure TaskLeaseExpired(int attempt, int maxAttempts) =>
        new("TASK_LEASE_EXPIRED", $"A sub-query's lease expired on its last attempt ({attempt} of {maxAttempts}).");

    /// <summary>The run's rows would pass its row limit.</summary>
    public static Failure ResultTooLarge(long maxRowsPerRun) =>
        new("RESULT_TOO_LARGE", $"The query produced more than {maxRowsPerRun} rows, the most one query may return.");
}

public static class ScheduleStatusNames
{
    public static string ToWire(this ScheduleStatus status) => status switch
    {
        ScheduleStatus.Scheduled => "SCHEDULED",
        ScheduleStatus.Queued => "QUEUED",
        ScheduleStatus.Running => "RUNNING",
        ScheduleStatus.Success => "SUCCESS",
        ScheduleStatus.Failure => "FAILURE",
        ScheduleStatus.Stopped => "STOPPED",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static bool IsFinished(this ScheduleStatus status) =>
        status is ScheduleStatus.Success or ScheduleStatus.Failure or ScheduleStatus.Stopped;

    public static bool TryParse(string? text, out ScheduleStatus status)
    {
        foreach (var candidate in Enum.GetValues<ScheduleStatus>())
        {
            if (candidate.ToWire() == text)
            {
                status = candidate;
                return true;
            }
        }
        status = default;
        return false;
    }

    public static bool TryParseSubQuery(string? text, out SubQueryState state)
    {
        (var ok, state) = text switch
        {
            "QUEUED" => (true, SubQueryState.Queued),
            "RUNNING" => (true, SubQueryState.Running),
            "DONE" => (true, SubQueryState.Done),
            _ => (false, default),
        };
        return ok;
    }
}

/// <summary>
/// A whole schedule as written into the store in one step: by the seed loader today, by tests, and by a
/// store migration later. <see cref="Validate"/> lists every way its state contradicts its tasks.
/// </summary>
public sealed record ScheduleRecord(
    string ScheduleId,
    string LicenseId,
    ScheduleStatus Status,
    IReadOnlyList<SubQueryState> SubQueries,
    RowBuffer Rows,
    Failure? Failure,
    DateTimeOffset? FinishedAt)
{
    public IEnumerable<string> Validate()
    {
        if (!ScheduleIds.IsValid(ScheduleId))
        {
            yield return $"schedule_id must be {ScheduleIds.Rule}";
        }
        if (string.IsNullOrWhiteSpace(LicenseId))
        {
            yield return "license_id is required";
        }

        var queued = SubQueries.Count(s => s == SubQueryState.Queued);
        var running = SubQueries.Count(s => s == SubQueryState.Running);
        var done = SubQueries.Count - queued - running;
        var status = Status.ToWire();

        switch (Status)
        {
            case ScheduleStatus.Scheduled or ScheduleStatus.Queued when SubQueries.Count == 0:
                yield return $"{status} needs at least one sub-query";
                break;
            case ScheduleStatus.Scheduled or ScheduleStatus.Queued when running + done > 0:
                yield return $"{status} means no sub-query has started, but {running} are RUNNING and {done} DONE";
                break;
            case ScheduleStatus.Running when SubQueries.Count == 0 || done == SubQueries.Count:
                yield return "RUNNING needs at least one sub-query that is not DONE (all DONE is SUCCESS)";
                break;
            case ScheduleStatus.Success when queued + running > 0:
                yield return $"SUCCESS needs every sub-query DONE, but {queued} are QUEUED and {running} RUNNING";
                break;
            case ScheduleStatus.Failure or ScheduleStatus.Stopped when queued + running > 0:
                yield return $"{status} is finished, so no sub-query can still be QUEUED ({queued}) or RUNNING ({running})";
                break;
        }

        if (Status == ScheduleStatus.Failure && Failure is null)
        {
            yield return "FAILURE needs failure {code, message}";
        }
        if (Status != ScheduleStatus.Failure && Failure is not null)
        {
            yield return $"failure is only allowed with FAILURE, not {status}";
        }
        if (Failure is not null && (string.IsNullOrWhiteSpace(Failure.Code) || string.IsNullOrWhiteSpace(Failure.Message)))
        {
            yield return "failure needs a non-empty code and message";
        }
        if (Status != ScheduleStatus.Success && Rows.Count > 0)
        {
            yield return $"data is only served in SUCCESS; a {status} schedule cannot have rows";
        }
        if (!Status.IsFinished() && FinishedAt is not null)
        {
            yield return $"finished_at is only allowed on a finished schedule, not {status}";
        }
    }
}
