using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>Leases and the task calls of the worker protocol.</summary>
public sealed partial class PostgresScheduleStore
{
    public async ValueTask<IReadOnlyList<LeasedTask>> LeaseAsync(LeaseCommand command, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + wait;
        while (true)
        {
            // Taken before looking, so that a wake-up committed between the look and the wait is not lost.
            var signal = _wakeups?.Signal;
            var (leased, next) = await WriteAsync(exclusive: false, async (connection, now) =>
            {
                var taken = await TryLeaseAsync(connection, command, now, cancellationToken);
                return (taken, taken.Count == 0 && now < deadline ? await NextDeadlineAsync(connection, cancellationToken) : null);
            }, cancellationToken);
            var now = _time.GetUtcNow();
            if (leased.Count > 0 || now >= deadline)
            {
                return leased;
            }

            var until = next is { } due && due < deadline ? due : deadline;
            var sleep = until - now;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(sleep > TimeSpan.Zero ? sleep : TimeSpan.Zero, _time, timeout.Token);
            if (signal is null)
            {
                // No wake-ups: wait out the time (or the next deadline), then look once more.
                try
                {
                    await delay.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
            else
            {
                await Task.WhenAny(signal, delay).ConfigureAwait(false);
                await timeout.CancelAsync().ConfigureAwait(false);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Takes up to <see cref="LeaseCommand.MaxTasks"/> queued tasks as the in-memory rotation does: licenses in rotation
    /// order, one task each per pass, each up to its limit, a served license to the back. The license rows are locked
    /// (in rotation order) while the call serves them; their tasks are taken with <c>FOR UPDATE SKIP LOCKED</c>.
    /// </summary>
    private async Task<List<LeasedTask>> TryLeaseAsync(NpgsqlConnection connection, LeaseCommand command, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var max = command.MaxTasks;
        // Locks first, counts after, in two statements: each statement of a transaction reads its own snapshot, so the
        // counts include what every lease that held these licenses before us committed (one statement would count as
        // of before its wait for the locks, and a license could run past its limit). Locked in license order, which no
        // one changes: the rotation order changes with every lease, and two leases locking by it could each hold a
        // license the other waits for.
        var locked = await ReadRowsAsync(connection,
            "SELECT license_id FROM licenses WHERE rotation IS NOT NULL ORDER BY license_id FOR UPDATE",
            [], r => r.GetString(0), cancellationToken);
        if (locked.Count == 0)
        {
            return [];
        }
        var licenses = await ReadRowsAsync(connection,
            """
            SELECT l.license_id,
                   (SELECT count(*) FROM tasks t WHERE t.license_id = l.license_id AND t.state = 'RUNNING')::int,
                   (SELECT count(*) FROM (SELECT 1 FROM tasks t WHERE t.license_id = l.license_id AND t.state = 'QUEUED' LIMIT $1) q)::int
            FROM unnest($2::text[]) AS u(license_id) JOIN licenses l ON l.license_id = u.license_id
            WHERE l.rotation IS NOT NULL
            ORDER BY l.rotation
            """, [max + 1, locked.ToArray()], r => new RotationEntry(r.GetString(0), r.GetInt32(1), r.GetInt32(2)), cancellationToken);
        if (licenses.Count == 0)
        {
            return [];
        }

        // The stores' one rotation rule, on the counts.
        var rotation = new LinkedList<RotationEntry>(licenses);
        var picks = new List<RotationEntry>();
        LeaseRotation.Serve(
            rotation,
            max,
            static license => license.Queued > 0,
            license => license.Running < MaxConcurrent(license.LicenseId),
            license =>
            {
                license.Queued--;
                license.Running++;
                license.Taken++;
                picks.Add(license);
            });

        // Rotation afterwards: served licenses still waiting go to the back in the order they were served; emptied ones
        // leave once their tasks are taken (below).
        var inRotation = rotation.Select(e => e.LicenseId).ToHashSet(StringComparer.Ordinal);
        var leaving = licenses.Where(e => !inRotation.Contains(e.LicenseId)).Select(e => e.LicenseId).ToArray();
        var movingBack = rotation.Where(e => e.Taken > 0).Select(e => e.LicenseId).ToArray();
        if (movingBack.Length > 0)
        {
            var positions = await ReadRowsAsync(connection, "SELECT nextval('rotation_seq') FROM generate_series(1, $1)",
                [movingBack.Length], r => r.GetInt64(0), cancellationToken);
            positions.Sort();
            await ExecuteAsync(connection,
                "UPDATE licenses l SET rotation = u.position FROM unnest($1::text[], $2::bigint[]) AS u(license_id, position) WHERE l.license_id = u.license_id",
                [movingBack, positions.ToArray()], cancellationToken);
        }
        var leased = picks.Count == 0 ? [] : await TakeAsync(connection, command, licenses, picks, now, cancellationToken);
        if (leaving.Length > 0)
        {
            // The counts said these licenses would have nothing queued left, but a task another call held locked was
            // skipped (a late heartbeat of a lease that expired locks its task, queued again): such a license stays in.
            await ExecuteAsync(connection,
                """
                UPDATE licenses l SET rotation = NULL
                WHERE l.license_id = ANY($1) AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.license_id = l.license_id AND t.state = 'QUEUED')
                """, [leaving], cancellationToken);
        }
        return leased;
    }

    /// <summary>Takes the picked licenses' next queued tasks (skipping any another call holds), in pick order.</summary>
    private static async Task<List<LeasedTask>> TakeAsync(
        NpgsqlConnection connection, LeaseCommand command, List<RotationEntry> licenses, List<RotationEntry> picks, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var served = licenses.Where(e => e.Taken > 0).ToArray();
        var chosen = await ReadRowsAsync(connection,
            """
            SELECT p.license_id, t.task_id
            FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS p(license_id, k, ord)
            CROSS JOIN LATERAL (
                SELECT task_id, queue_seq FROM tasks t
                WHERE t.license_id = p.license_id AND t.state = 'QUEUED'
                ORDER BY t.queue_seq LIMIT p.k
                FOR UPDATE SKIP LOCKED) t
            ORDER BY p.ord, t.queue_seq
            """, [served.Select(e => e.LicenseId).ToArray(), served.Select(e => e.Taken).ToArray()],
            r => (LicenseId: r.GetString(0), TaskId: r.GetString(1)), cancellationToken);

        // In pick order: each pick takes its license's next task.
        var byLicense = chosen.GroupBy(c => c.LicenseId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new Queue<string>(g.Select(c => c.TaskId)), StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var pick in picks)
        {
            if (byLicense.TryGetValue(pick.LicenseId, out var queue) && queue.TryDequeue(out var taskId))
            {
                order.Add(taskId);
            }
        }
        if (order.Count == 0)
        {
            return [];
        }

        var tokens = order.Select(_ => RandomIds.UrlSafe(24)).ToArray();
        var expires = now + command.LeaseDuration;
        var updated = await ReadRowsAsync(connection,
            """
            UPDATE tasks t SET state = 'RUNNING', attempt = t.attempt + 1, lease_token = u.token, lease_expires_at = $3, queue_seq = NULL
            FROM unnest($1::text[], $2::text[]) AS u(task_id, token), runs r
            WHERE t.task_id = u.task_id AND r.run_id = t.run_id
            RETURNING t.task_id, r.schedule_id, t.license_id, t.payload, t.attempt, t.lease_token, t.run_id
            """, [order.ToArray(), tokens, expires],
            r => (Task: new LeasedTask(r.GetString(0), r.GetString(1), r.GetString(2), r.GetFieldValue<byte[]>(3), r.GetInt32(4),
                r.GetString(5), expires), RunId: r.GetInt64(6)), cancellationToken);
        await ExecuteAsync(connection, "UPDATE runs SET status = 'RUNNING' WHERE run_id = ANY($1) AND status = 'QUEUED'",
            [updated.Select(u => u.RunId).Distinct().ToArray()], cancellationToken);

        var position = order.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);
        return [.. updated.Select(u => u.Task).OrderBy(t => position[t.TaskId])];
    }

    private int MaxConcurrent(string licenseId) => LeaseRotation.MaxConcurrent(licenseId, _scheduler, _licenses);

    private sealed class RotationEntry(string licenseId, int running, int queued)
    {
        public string LicenseId { get; } = licenseId;
        public int Running { get; set; } = running;
        public int Queued { get; set; } = queued;
        public int Taken { get; set; }
    }

    // ---- task calls -----------------------------------------------------------------------------------------------

    public async ValueTask<TaskOutcome> HeartbeatAsync(string taskId, string leaseToken, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        await TaskCallAsync(taskId, lockLicense: false, async (connection, now, task) =>
        {
            if (Refusal(task, leaseToken) is { } refused)
            {
                return refused;
            }
            var expires = now + leaseDuration;
            await ExecuteAsync(connection, "UPDATE tasks SET lease_expires_at = $2 WHERE task_id = $1", [taskId, expires], cancellationToken);
            return new TaskOutcome(WriteResult.Ok, TaskState: TaskState.Running, Attempt: task.Attempt, LeaseExpiresAt: expires);
        }, cancellationToken, RunLock.Shared);

    public async ValueTask<TaskOutcome> AppendRowsAsync(
        string taskId, string leaseToken, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows, CancellationToken cancellationToken)
    {
        // Batches of one run are written side by side (the run shared).
        return await AloneIfTooLargeAsync(RunLock.Shared, runLock => AppendRowsAsync(taskId, leaseToken, batch, rows, runLock, cancellationToken));
    }

    private Task<TaskOutcome> AppendRowsAsync(
        string taskId, string leaseToken, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows, RunLock runLock,
        CancellationToken cancellationToken) =>
        TaskCallAsync(taskId, lockLicense: false, async (connection, now, task) =>
        {
            if (Refusal(task, leaseToken) is { } refused)
            {
                return refused;
            }
            var running = Outcome(WriteResult.Ok, task);
            var known = await ReadRowAsync(connection, "SELECT true FROM batches WHERE task_id = $1 AND attempt = $2 AND batch = $3",
                [taskId, task.Attempt, batch], r => r.GetBoolean(0), cancellationToken);
            if (known)
            {
                return running with { Result = WriteResult.Duplicate };
            }
            // The key makes the batch count once, even against a writer this lock did not serialize.
            var inserted = await ExecuteAsync(connection,
                "INSERT INTO batches (task_id, attempt, batch, row_count, row_bytes) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                [taskId, task.Attempt, batch, rows.Count, rows.Sum(r => (long)r.Length)], cancellationToken);
            if (inserted == 0)
            {
                return running with { Result = WriteResult.Duplicate };
            }
            if (!await RowChunks.WriteAsync(connection, task.RunId, taskId, task.Attempt, batch, rows, _scheduler.MaxRowsPerRun, cancellationToken))
            {
                return await TooLargeAsync(connection, task, now, runLock, cancellationToken);
            }
            return running with { RowsAccepted = rows.Count };
        }, cancellationToken, runLock);

    /// <summary>
    /// A task call that adds rows, made holding the run as <paramref name="first"/> says; when its rows would pass the run's
    /// row limit (<see cref="RowChunks.WriteAsync"/>, the one place that decides it), its transaction is rolled back and the
    /// call made once more holding the run alone, where failing the run takes no lock another batch could be holding.
    /// </summary>
    private static async Task<TaskOutcome> AloneIfTooLargeAsync(RunLock first, Func<RunLock, Task<TaskOutcome>> call)
    {
        try
        {
            return await call(first);
        }
        catch (RowLimitPassed)
        {
            return await call(RunLock.Exclusive);
        }
    }

    /// <summary>Rolls a task call's transaction back, to be made again holding the run alone: its rows pass the run's row limit.</summary>
    private sealed class RowLimitPassed() : Exception("The rows pass the run's row limit.");

    public async ValueTask<TaskOutcome> CompleteAsync(
        string taskId, string leaseToken, IReadOnlyList<ReadOnlyMemory<byte>> rows, IReadOnlyList<ReadOnlyMemory<byte>> subQueries,
        CancellationToken cancellationToken)
    {
        var payloads = subQueries.Select(p => p.ToArray()).ToArray();
        // Completes of one run take turns beside its row batches.
        return await AloneIfTooLargeAsync(RunLock.BesideBatches, runLock => CompleteAsync(taskId, leaseToken, rows, payloads, runLock, cancellationToken));
    }

    private Task<TaskOutcome> CompleteAsync(
        string taskId, string leaseToken, IReadOnlyList<ReadOnlyMemory<byte>> rows, byte[][] payloads, RunLock runLock,
        CancellationToken cancellationToken) =>
        TaskCallAsync(taskId, lockLicense: true, async (connection, now, task) =>
        {
            if (task.State == "DONE" && task.CompletedToken == leaseToken)
            {
                return Outcome(WriteResult.Duplicate, task);
            }
            if (Refusal(task, leaseToken) is { } refused)
            {
                return refused;
            }
            if (rows.Count > 0
                && !await RowChunks.WriteAsync(connection, task.RunId, taskId, task.Attempt, CompletionBatch, rows, _scheduler.MaxRowsPerRun, cancellationToken))
            {
                return await TooLargeAsync(connection, task, now, runLock, cancellationToken);
            }
            await ExecuteAsync(connection,
                "UPDATE tasks SET state = 'DONE', completed_token = lease_token, lease_token = NULL, lease_expires_at = NULL WHERE task_id = $1",
                [taskId], cancellationToken);
            if (payloads.Length > 0)
            {
                var next = await ReadRowAsync(connection, "SELECT coalesce(max(ordinal), -1) + 1 FROM tasks WHERE run_id = $1",
                    [task.RunId], r => r.GetInt32(0), cancellationToken);
                await InsertTasksAsync(connection, task.RunId, task.LicenseId, next, payloads, queued: true, cancellationToken);
                await EnterRotationAsync(connection, task.LicenseId, cancellationToken);
            }
            // Every task done: no batch of the run can still be writing (a batch needs its task running), so finishing it
            // here needs no more than turns among completes.
            var allDone = await ReadRowAsync(connection, "SELECT NOT EXISTS (SELECT 1 FROM tasks WHERE run_id = $1 AND state <> 'DONE')",
                [task.RunId], r => r.GetBoolean(0), cancellationToken);
            if (allDone)
            {
                await FinishAsync(connection, task.RunId, ScheduleStatus.Success, now, null, cancellationToken);
            }
            await NotifyAsync(connection, cancellationToken);
            return new TaskOutcome(WriteResult.Ok, TaskState: TaskState.Done, Attempt: task.Attempt);
        }, cancellationToken, runLock);

    public async ValueTask<TaskOutcome> FailAsync(string taskId, string leaseToken, TaskFailure failure, CancellationToken cancellationToken) =>
        await TaskCallAsync(taskId, lockLicense: true, async (connection, now, task) =>
        {
            if (Refusal(task, leaseToken) is { } refused)
            {
                return refused;
            }
            await EndLeaseAsync(connection, taskId, task.Attempt, cancellationToken);
            if (failure.Retryable && await TryRetryAsync(connection, taskId, task.LicenseId, task.Attempt, cancellationToken))
            {
                return new TaskOutcome(WriteResult.Ok, TaskState: TaskState.Queued, Attempt: task.Attempt);
            }
            await FinishAsync(connection, task.RunId, ScheduleStatus.Failure, now, new Failure(failure.Code, failure.Message), cancellationToken);
            return new TaskOutcome(WriteResult.Ok, TaskState: TaskState.Failed, Attempt: task.Attempt);
        }, cancellationToken);

    /// <summary>How a task call holds the task's run until it commits.</summary>
    private enum RunLock
    {
        /// <summary>
        /// Alone (<c>FOR UPDATE</c>): for calls that may end the run while other tasks are running (a stop, a failure, the
        /// run found too large), which must wait for every batch being written. The default.
        /// </summary>
        Exclusive,

        /// <summary>
        /// One such call at a time, beside row batches (<c>FOR NO KEY UPDATE</c>), for a complete: completes of one run take
        /// turns (each sees the last one's tasks done, so exactly one finishes the run), but neither waits for the batches
        /// other workers are writing nor holds them up. Waiting for those had a complete, and the license it holds, wait
        /// for every batch in flight in the run (bench/RESULTS.md, twelfth session).
        /// </summary>
        BesideBatches,

        /// <summary>
        /// Shared with other such calls (<c>FOR KEY SHARE</c>), for calls that only add to one task (a row batch, a
        /// heartbeat): they go on side by side, while a stop or a failure of the run waits for them, and they for it.
        /// </summary>
        Shared,
    }

    /// <summary>A task call: the task found, then its license (when the call may change the queue), run and task locked in that order.</summary>
    private Task<TaskOutcome> TaskCallAsync(
        string taskId, bool lockLicense, Func<NpgsqlConnection, DateTimeOffset, TaskRow, Task<TaskOutcome>> body, CancellationToken cancellationToken,
        RunLock runLock = RunLock.Exclusive) =>
        WriteAsync(exclusive: false, async (connection, now) =>
        {
            var owner = await ReadRowAsync(connection, "SELECT run_id, license_id FROM tasks WHERE task_id = $1",
                [taskId], r => (RunId: r.GetInt64(0), LicenseId: r.GetString(1)), cancellationToken);
            if (owner.LicenseId is null)
            {
                return TaskOutcome.Refused(TaskRefusal.TaskNotFound);
            }
            if (lockLicense)
            {
                await ExecuteAsync(connection, "SELECT 1 FROM licenses WHERE license_id = $1 FOR UPDATE", [owner.LicenseId], cancellationToken);
            }
            var task = await ReadRowAsync(connection,
                $"""
                WITH run AS (
                    SELECT r.run_id, r.status FROM runs r
                    WHERE r.run_id = $2 {runLock switch { RunLock.Shared => "FOR KEY SHARE", RunLock.BesideBatches => "FOR NO KEY UPDATE", _ => "FOR UPDATE" }})
                SELECT t.run_id, t.license_id, t.state, t.attempt, t.lease_token, t.lease_expires_at, t.completed_token, run.status
                FROM tasks t JOIN run ON run.run_id = t.run_id
                WHERE t.task_id = $1
                FOR UPDATE OF t
                """, [taskId, owner.RunId],
                r => new TaskRow(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt32(3),
                    r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5),
                    r.IsDBNull(6) ? null : r.GetString(6), ParseStatus(r.GetString(7))), cancellationToken);
            return task is null ? TaskOutcome.Refused(TaskRefusal.TaskNotFound) : await body(connection, now, task);
        }, cancellationToken);

    private sealed record TaskRow(
        long RunId, string LicenseId, string State, int Attempt, string? LeaseToken, DateTimeOffset? LeaseExpiresAt,
        string? CompletedToken, ScheduleStatus RunStatus);

    /// <summary>Null when <paramref name="leaseToken"/> holds the task's live lease; else why not (the in-memory TaskLeases.IsLive).</summary>
    private static TaskOutcome? Refusal(TaskRow task, string leaseToken)
    {
        if (task.State == "RUNNING" && task.LeaseToken == leaseToken)
        {
            return null;
        }
        return task.State switch
        {
            "DROPPED" => TaskOutcome.Refused(TaskRefusal.QueryEnded, task.RunStatus),
            "DONE" => TaskOutcome.Refused(TaskRefusal.TaskAlreadyCompleted),
            "QUEUED" => TaskOutcome.Refused(TaskRefusal.LeaseExpired),
            _ => TaskOutcome.Refused(TaskRefusal.UnknownLease),
        };
    }

    private static TaskOutcome Outcome(WriteResult result, TaskRow task) =>
        new(result, TaskState: task.State switch
            {
                "PENDING" or "QUEUED" => TaskState.Queued,
                "RUNNING" => TaskState.Running,
                "DONE" => TaskState.Done,
                _ => TaskState.Failed,
            },
            Attempt: task.Attempt,
            LeaseExpiresAt: task.State == "RUNNING" ? task.LeaseExpiresAt : null);

    /// <summary>
    /// The task's rows pass the run's row limit: fails the run as too large (their copy goes with it) when the call holds the
    /// run alone, else throws <see cref="RowLimitPassed"/> for <see cref="AloneIfTooLargeAsync"/>. Failing the run locks all
    /// its tasks: batches of other tasks that passed the limit at the same moment would each hold one of them (a deadlock).
    /// </summary>
    private async Task<TaskOutcome> TooLargeAsync(NpgsqlConnection connection, TaskRow task, DateTimeOffset now, RunLock runLock, CancellationToken cancellationToken)
    {
        if (runLock != RunLock.Exclusive)
        {
            throw new RowLimitPassed();
        }
        await FinishAsync(connection, task.RunId, ScheduleStatus.Failure, now, Failure.ResultTooLarge(_scheduler.MaxRowsPerRun), cancellationToken);
        return TaskOutcome.Refused(TaskRefusal.ResultTooLarge);
    }
}
