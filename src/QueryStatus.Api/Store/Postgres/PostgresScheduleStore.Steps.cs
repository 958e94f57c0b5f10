using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>The time step and a run's state changes: what <see cref="InMemory.TimeStep"/> and <see cref="InMemory.RunLifecycle"/> do in memory.</summary>
public sealed partial class PostgresScheduleStore
{
    /// <summary>
    /// Applies every deadline due at <paramref name="now"/>, earliest first (a lease before a run deadline due at the same
    /// instant), each as of its due time; returns how many runs it removed. Runs under the exclusive scheduler lock.
    /// </summary>
    private async Task<int> StepAsync(NpgsqlConnection connection, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var removed = 0;
        while (true)
        {
            var next = await ReadRowAsync(connection,
                """
                SELECT kind, id, due FROM (
                    (SELECT 0 AS kind, task_id AS id, lease_expires_at AS due FROM tasks
                     WHERE state = 'RUNNING' AND lease_expires_at <= $1 ORDER BY lease_expires_at LIMIT 1)
                    UNION ALL
                    (SELECT 1, run_id::text, deadline FROM runs WHERE deadline <= $1 ORDER BY deadline LIMIT 1)
                ) e ORDER BY due, kind LIMIT 1
                """, [now], r => (Found: true, Kind: r.GetInt32(0), Id: r.GetString(1), Due: r.GetFieldValue<DateTimeOffset>(2)),
                cancellationToken);
            if (!next.Found)
            {
                return removed;
            }
            if (next.Kind == 0)
            {
                await ExpireLeaseAsync(connection, next.Id, next.Due, cancellationToken);
            }
            else
            {
                removed += await RunDeadlinePassedAsync(connection, long.Parse(next.Id, System.Globalization.CultureInfo.InvariantCulture),
                    next.Due, cancellationToken);
            }
        }
    }

    private async Task ExpireLeaseAsync(NpgsqlConnection connection, string taskId, DateTimeOffset due, CancellationToken cancellationToken)
    {
        var task = await ReadRowAsync(connection,
            "SELECT run_id, license_id, attempt FROM tasks WHERE task_id = $1",
            [taskId], r => (RunId: r.GetInt64(0), LicenseId: r.GetString(1), Attempt: r.GetInt32(2)), cancellationToken);
        await EndLeaseAsync(connection, taskId, task.Attempt, cancellationToken);
        if (!await TryRetryAsync(connection, taskId, task.LicenseId, task.Attempt, cancellationToken))
        {
            await FinishAsync(connection, task.RunId, ScheduleStatus.Failure, due,
                Failure.TaskLeaseExpired(task.Attempt, _scheduler.MaxAttempts), cancellationToken);
        }
    }

    /// <summary>A run's one deadline means what its state says: its start time, its timeout, or its retention.</summary>
    private async Task<int> RunDeadlinePassedAsync(NpgsqlConnection connection, long runId, DateTimeOffset due, CancellationToken cancellationToken)
    {
        var run = await ReadRowAsync(connection, "SELECT status, license_id FROM runs WHERE run_id = $1",
            [runId], r => (Status: ParseStatus(r.GetString(0)), LicenseId: r.GetString(1)), cancellationToken);
        switch (run.Status)
        {
            case ScheduleStatus.Scheduled:
                await ExecuteAsync(connection,
                    """
                    UPDATE tasks t SET state = 'QUEUED', queue_seq = s.seq
                    FROM (SELECT o.task_id, nextval('queue_seq') AS seq
                          FROM (SELECT task_id FROM tasks WHERE run_id = $1 AND state = 'PENDING' ORDER BY ordinal OFFSET 0) o) s
                    WHERE t.task_id = s.task_id
                    """, [runId], cancellationToken);
                await ExecuteAsync(connection,
                    "UPDATE runs SET status = 'QUEUED', queued_at = $2, deadline = $3 WHERE run_id = $1",
                    [runId, due, due + _scheduler.MaxRunTime], cancellationToken);
                await EnterRotationAsync(connection, run.LicenseId, cancellationToken);
                await NotifyAsync(connection, cancellationToken);
                return 0;
            case ScheduleStatus.Queued or ScheduleStatus.Running:
                await FinishAsync(connection, runId, ScheduleStatus.Failure, due, Failure.QueryTimeout(_scheduler.MaxRunTime), cancellationToken);
                return 0;
            default:
                if (await ReadRowAsync(connection, $"SELECT {RowChunks.AnyOfRunSql("$1")}", [runId], r => r.GetBoolean(0), cancellationToken))
                {
                    // Its rows go first, in the sweeper's bounded batches (DeleteExpiredRowsAsync), never in a cascade here:
                    // this step runs in whichever write comes first after the expiry, under the lock every writer takes,
                    // and a large result's cascade would hold them all for seconds. Reads answer 404 from expires_at on
                    // already; the run waits without a deadline until the sweeper has deleted its rows and set it again.
                    await ExecuteAsync(connection, "UPDATE runs SET deadline = NULL WHERE run_id = $1", [runId], cancellationToken);
                    return 0;
                }
                await ExecuteAsync(connection, "DELETE FROM runs WHERE run_id = $1", [runId], cancellationToken);
                await ExecuteAsync(connection,
                    "DELETE FROM licenses l WHERE l.license_id = $1 AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.license_id = l.license_id)",
                    [run.LicenseId], cancellationToken);
                return 1;
        }
    }

    /// <summary>Ends a task's lease: its token goes and what it staged under this attempt is discarded.</summary>
    private static async Task EndLeaseAsync(NpgsqlConnection connection, string taskId, int attempt, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, "UPDATE tasks SET lease_token = NULL, lease_expires_at = NULL WHERE task_id = $1", [taskId], cancellationToken);
        await RowChunks.DiscardAsync(connection, taskId, attempt, cancellationToken);
        await ExecuteAsync(connection, "DELETE FROM batches WHERE task_id = $1 AND attempt = $2", [taskId, attempt], cancellationToken);
    }

    /// <summary>Puts a task whose attempt ended back in front of its license's queue if attempts remain; false otherwise.</summary>
    private async Task<bool> TryRetryAsync(NpgsqlConnection connection, string taskId, string licenseId, int attempt, CancellationToken cancellationToken)
    {
        if (attempt >= _scheduler.MaxAttempts)
        {
            return false;
        }
        await ExecuteAsync(connection, "UPDATE tasks SET state = 'QUEUED', queue_seq = -nextval('queue_seq') WHERE task_id = $1",
            [taskId], cancellationToken);
        await EnterRotationAsync(connection, licenseId, cancellationToken);
        await NotifyAsync(connection, cancellationToken);
        return true;
    }

    /// <summary>Ends a run: what is queued or running is dropped, the result is numbered on success and given back otherwise.</summary>
    private async Task FinishAsync(
        NpgsqlConnection connection, long runId, ScheduleStatus status, DateTimeOffset finishedAt, Failure? failure,
        CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection,
            """
            UPDATE tasks SET state = 'DROPPED', lease_token = NULL, lease_expires_at = NULL, queue_seq = NULL
            WHERE run_id = $1 AND state IN ('PENDING', 'QUEUED', 'RUNNING')
            """, [runId], cancellationToken);
        if (status == ScheduleStatus.Success)
        {
            await SealResultAsync(connection, runId, cancellationToken);
        }
        else
        {
            await ExecuteAsync(connection, "DELETE FROM row_chunks WHERE run_id = $1", [runId], cancellationToken);
        }
        await ExecuteAsync(connection, "DELETE FROM batches WHERE task_id IN (SELECT task_id FROM tasks WHERE run_id = $1)", [runId], cancellationToken);
        await ExecuteAsync(connection,
            """
            UPDATE runs SET status = $2, finished_at = $3, expires_at = $4, deadline = $4, failure_code = $5, failure_message = $6
            WHERE run_id = $1
            """,
            [runId, status.ToWire(), finishedAt, RetainedUntil(finishedAt), (object?)failure?.Code ?? DBNull.Value, (object?)failure?.Message ?? DBNull.Value],
            cancellationToken);
        await NotifyAsync(connection, cancellationToken);
    }

    /// <summary>Numbers a succeeded run's rows and records their count and bytes on the run.</summary>
    private static async Task SealResultAsync(NpgsqlConnection connection, long runId, CancellationToken cancellationToken)
    {
        var total = await RowChunks.NumberAsync(connection, runId, cancellationToken);
        await ExecuteAsync(connection,
            """
            UPDATE runs SET total_rows = $2,
                row_bytes = (SELECT coalesce(sum(length(bytes) - (row_count - 1)), 0) FROM row_chunks WHERE run_id = $1 AND first_row IS NOT NULL)
            WHERE run_id = $1
            """, [runId, total], cancellationToken);
    }

    /// <summary>The earliest deadline of either kind, for a waiting lease call.</summary>
    private static Task<DateTimeOffset?> NextDeadlineAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        ReadRowAsync(connection,
            """
            SELECT least((SELECT min(deadline) FROM runs), (SELECT min(lease_expires_at) FROM tasks WHERE state = 'RUNNING'))
            """, [], r => r.IsDBNull(0) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(0), cancellationToken);
}
