using System.Diagnostics.Metrics;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Options;
using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// The durable store: the same contract as <see cref="InMemoryScheduleStore"/>, on PostgreSQL, for any number of instances
/// at once. Every operation is one transaction; times come from <see cref="TimeProvider"/> as statement parameters.
/// </summary>
/// <remarks>
/// Locking, in one fixed order so that no two writers wait on each other in a cycle: a transaction-scoped advisory lock
/// first (<see cref="SchedulerLockKey"/>), then license rows, then run rows, then task rows. The advisory lock is taken
/// exclusively only by what touches every license and run at once (the time step, a put) and shared by everything
/// else, which then serializes only where it meets: per license (submit, stop, complete, fail, and a lease, which locks
/// the licenses in the rotation and takes their tasks with <c>FOR UPDATE SKIP LOCKED</c>) and per run (every task
/// call). A write first asks whether any deadline is due; if so, it takes the lock exclusively and applies the time
/// step as of each deadline's due time, as the in-memory store's writes do. A deadlock or serialization failure that
/// slips through is rolled back by PostgreSQL and run again (<see cref="GuardAsync{T}"/>).
/// </remarks>
public sealed partial class PostgresScheduleStore : IScheduleStore, IDisposable
{
    public const string ProviderName = "Postgres";

    /// <summary>The advisory lock of the scheduler ("QSschedl").</summary>
    public const long SchedulerLockKey = 0x5153736368656C;

    /// <summary>A seeded RUNNING task has no worker; it goes back to the queue if none reports by then (as in memory).</summary>
    private static readonly TimeSpan SeededLeaseDuration = TimeSpan.FromMinutes(5);

    /// <summary>The batch number under which a complete call's own rows are staged: after every worker batch (0 and up).</summary>
    private const long CompletionBatch = -1;

    private readonly NpgsqlDataSource _data;
    private readonly TimeProvider _time;
    private readonly TimeSpan _retention;
    private readonly SchedulerOptions _scheduler;
    private readonly LicensesOptions _licenses;
    private readonly PostgresWakeups? _wakeups;
    private readonly ReadBatches<StatusRead, StatusSnapshot?> _statusReads;
    private readonly PageCache _pages;
    /// <summary>What the last <see cref="RemoveExpiredAsync"/> measured (boxed, so that it is read and written whole).</summary>
    private object _holdings = default(StoreHoldings);

    public PostgresScheduleStore(
        NpgsqlDataSource dataSource,
        TimeProvider time,
        IOptions<StoreOptions> store,
        IOptions<SchedulerOptions> scheduler,
        IOptions<LicensesOptions>? licenses = null,
        PostgresWakeups? wakeups = null,
        IMeterFactory? meters = null)
    {
        _data = dataSource;
        _time = time;
        _retention = store.Value.Retention;
        _scheduler = scheduler.Value;
        _licenses = licenses?.Value ?? [];
        _wakeups = wakeups;
        _statusReads = NewStatusReads();
        _pages = new PageCache(store.Value.Postgres.PageCacheMegabytes * 1024L * 1024L, meters);
    }

    public string Provider => ProviderName;

    public void Dispose() => _pages.Dispose();

    public StoreHoldings Holdings() => (StoreHoldings)Volatile.Read(ref _holdings);

    public async ValueTask PingAsync(CancellationToken cancellationToken) =>
        await GuardAsync("The PostgreSQL store did not answer a ping.", async () =>
        {
            await using var connection = await _data.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            return await command.ExecuteScalarAsync(cancellationToken);
        });

    public async ValueTask<StatusSnapshot?> GetStatusAsync(string licenseId, string scheduleId, PageWindow page, CancellationToken cancellationToken)
    {
        var read = new StatusRead(licenseId, scheduleId, page);
        var (start, end) = AsAsked(page);
        var ahead = _pages.ReadingAhead(licenseId, scheduleId, start, end);
        return await GuardAsync<StatusSnapshot?>("Reading a status from PostgreSQL failed.", ahead.IsCompletedSuccessfully && ahead.Result is null
            ? () => _statusReads.ReadAsync(read, cancellationToken)
            : () => ReadAfterAsync(ahead, read, cancellationToken));
    }

    /// <summary>
    /// A poll of a window being read ahead: it waits for that read, and then finds the page held; if the read failed
    /// on the database, that is this poll's failure (a second try would double the time before the poll's 503).
    /// </summary>
    private async Task<StatusSnapshot?> ReadAfterAsync(Task<Exception?> ahead, StatusRead read, CancellationToken cancellationToken)
    {
        if (await ahead.WaitAsync(cancellationToken) is NpgsqlException failed)
        {
            ExceptionDispatchInfo.Throw(failed);
        }
        return await _statusReads.ReadAsync(read, cancellationToken);
    }

    /// <summary>
    /// The page as asked (capped): the rows a statement looks for, and the key of the poll's window in the page cache,
    /// for the poll and for a read ahead of it alike. The result's end clips it, in SQL (no rows past it) and when read
    /// (<see cref="PageWindow.Resolve"/>).
    /// </summary>
    private static (long Start, long End) AsAsked(PageWindow page) => page.Resolve(long.MaxValue);

    /// <summary>A status poll's read: the caller's license, the schedule and the page asked for.</summary>
    private readonly record struct StatusRead(string LicenseId, string ScheduleId, PageWindow Page);

    /// <summary>
    /// Concurrent polls share statements (<see cref="ReadBatches{TRequest, TResult}"/>): per poll, PostgreSQL's cost of a
    /// statement and Npgsql's of a command were most of what a poll cost beyond the in-memory store's (bench/RESULTS.md).
    /// Two batches on their way at once keep PostgreSQL working while the service writes the answers of the last one.
    /// </summary>
    private ReadBatches<StatusRead, StatusSnapshot?> NewStatusReads() => new(ReadStatusesAsync, maxInFlight: 2, maxBatch: 64);

    /// <summary>
    /// The snapshots of a batch of polls in one statement, one snapshot of the database; a read takes no lock and changes
    /// nothing. A page this instance holds (<see cref="PageCache"/>) is not sent again while its run is still the one
    /// the statement finds.
    /// </summary>
    private async Task<StatusSnapshot?[]> ReadStatusesAsync(IReadOnlyList<StatusRead> reads)
    {
        var licenses = new string[reads.Count];
        var schedules = new string[reads.Count];
        var starts = new long[reads.Count];
        var ends = new long[reads.Count];
        var windows = new PageWindow[reads.Count];
        var held = new PageCache.Held?[reads.Count];
        var heldRuns = new long[reads.Count];
        var heldExpiries = new DateTimeOffset?[reads.Count];
        for (var i = 0; i < reads.Count; i++)
        {
            (licenses[i], schedules[i], windows[i]) = (reads[i].LicenseId, reads[i].ScheduleId, reads[i].Page);
            (starts[i], ends[i]) = AsAsked(windows[i]);
            held[i] = _pages.Find(licenses[i], schedules[i], starts[i], ends[i]);
            (heldRuns[i], heldExpiries[i]) = (held[i]?.RunId ?? 0, held[i]?.ExpiresAt);
        }
        Found?[] snapshots;
        await using (var connection = await _data.OpenConnectionAsync())
        {
            snapshots = await SnapshotsAsync(connection,
                """
                SELECT q.n, q.start_row, q.end_row, q.held_run, q.held_expires, r.*
                FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $6::bigint[], $7::timestamptz[])
                    WITH ORDINALITY AS q(license_id, schedule_id, start_row, end_row, held_run, held_expires, n)
                CROSS JOIN LATERAL (
                    -- LIMIT keeps this a lookup by key per poll, whatever the planner thinks of the array's length.
                    SELECT r.* FROM runs r
                    WHERE r.license_id = q.license_id AND r.schedule_id = q.schedule_id AND (r.expires_at IS NULL OR r.expires_at > $5)
                    LIMIT 1) r
                """,
                [licenses, schedules, starts, ends, _time.GetUtcNow(), heldRuns, heldExpiries], windows, held, CancellationToken.None);
        }
        for (var i = 0; i < snapshots.Length; i++)
        {
            var pagingThrough = false;
            if (snapshots[i] is { PageHeld: true })
            {
                _pages.Reused(licenses[i], schedules[i], starts[i], ends[i], held[i]!);
                pagingThrough = held[i]!.ReadAhead;
            }
            else if (held[i] is not null)
            {
                _pages.Forget(licenses[i], schedules[i], starts[i], ends[i]);
            }
            if (snapshots[i] is { PageHeld: false, Snapshot.Status: ScheduleStatus.Success } found)
            {
                pagingThrough = _pages.FollowsRead(licenses[i], schedules[i], starts[i], ends[i], found.RunId);
                _pages.Keep(licenses[i], schedules[i], starts[i], ends[i], found.RunId, found.Snapshot.ExpiresAt, found.Snapshot.Page);
            }
            if (pagingThrough && snapshots[i] is { Snapshot: { Page.End: var pageEnd, TotalRows: var total } } paged && pageEnd < total)
            {
                ReadAhead(reads[i] with { Page = windows[i] with { Start = pageEnd, End = pageEnd + (windows[i].End - windows[i].Start) } }, paged.RunId);
            }
        }
        return Array.ConvertAll(snapshots, static found => found?.Snapshot);
    }

    /// <summary>
    /// The window after the one a client paging through a result just got, read before it asks (<see cref="PageCache.ReadAhead"/>):
    /// reading a result page by page, one client would otherwise wait for PostgreSQL to build and send each page.
    /// </summary>
    private void ReadAhead(StatusRead next, long runId)
    {
        var (start, end) = AsAsked(next.Page);
        _pages.ReadAhead(next.LicenseId, next.ScheduleId, start, end, async () =>
        {
            await using var connection = await _data.OpenConnectionAsync();
            return await FindRunAsync(connection, runId, next.Page, CancellationToken.None) is { Snapshot.Status: ScheduleStatus.Success } found
                ? new PageCache.Held(found.RunId, found.Snapshot.ExpiresAt, found.Snapshot.Page)
                : null;
        });
    }

    public async ValueTask PutAsync(ScheduleRecord schedule, CancellationToken cancellationToken)
    {
        var problems = schedule.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(
                $"Schedule '{schedule.ScheduleId}' is inconsistent: {string.Join("; ", problems)}.", nameof(schedule));
        }

        // No time step here: a seed describes state as of now; what it makes due is applied by the next write or sweep.
        await WriteAsync(exclusive: true, async (connection, now) =>
        {
            await JoinLicenseAsync(connection, schedule.LicenseId, cancellationToken);
            await ExecuteAsync(connection, "DELETE FROM runs WHERE license_id = $1 AND schedule_id = $2",
                [schedule.LicenseId, schedule.ScheduleId], cancellationToken);

            var status = schedule.Status;
            var active = status is ScheduleStatus.Queued or ScheduleStatus.Running;
            DateTimeOffset? finishedAt = status.IsFinished() ? schedule.FinishedAt ?? now : null;
            DateTimeOffset? deadline = active ? now + _scheduler.MaxRunTime : RetainedUntil(finishedAt);
            var runId = await InsertRunAsync(connection, schedule.LicenseId, schedule.ScheduleId, status,
                queuedAt: active ? now : null, finishedAt, deadline, schedule.Failure, cancellationToken);

            var ids = new string[schedule.SubQueries.Count];
            var states = new string[ids.Length];
            var tokens = new string?[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = NewTaskId();
                states[i] = schedule.SubQueries[i] switch
                {
                    SubQueryState.Done => "DONE",
                    SubQueryState.Running => "RUNNING",
                    // A seeded SCHEDULED run has no start time: its tasks wait until it is stopped.
                    _ when status == ScheduleStatus.Scheduled => "PENDING",
                    _ => "QUEUED",
                };
                tokens[i] = states[i] == "RUNNING" ? RandomIds.UrlSafe(24) : null;
            }
            await ExecuteAsync(connection,
                """
                INSERT INTO tasks (task_id, run_id, license_id, ordinal, payload, state, queue_seq, attempt, lease_token, lease_expires_at)
                SELECT u.id, $1, $2, (u.ord - 1)::int, '\x'::bytea, u.state,
                       CASE WHEN u.state = 'QUEUED' THEN nextval('queue_seq') END,
                       CASE WHEN u.state IN ('DONE', 'RUNNING') THEN 1 ELSE 0 END,
                       u.token, CASE WHEN u.state = 'RUNNING' THEN $6::timestamptz END
                FROM (SELECT * FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS x(id, state, token, ord) ORDER BY ord OFFSET 0) u
                """,
                [runId, schedule.LicenseId, ids, states, tokens, now + SeededLeaseDuration], cancellationToken);
            if (states.Contains("QUEUED"))
            {
                await EnterRotationAsync(connection, schedule.LicenseId, cancellationToken);
            }

            if (status == ScheduleStatus.Success && schedule.Rows.Count > 0)
            {
                // The seed's buffer lives through this call: its rows are read in place, copied once into the chunks.
                var rows = new ReadOnlyMemory<byte>[schedule.Rows.Count];
                for (var i = 0; i < rows.Length; i++)
                {
                    rows[i] = schedule.Rows.Get(i);
                }
                await RowChunks.WriteAsync(connection, runId, ids.Length > 0 ? ids[0] : RowChunks.RunOwnTaskId(runId), 1, 0, rows, long.MaxValue, cancellationToken);
                await SealResultAsync(connection, runId, cancellationToken);
            }
            await NotifyAsync(connection, cancellationToken);
            return 0;
        }, cancellationToken, step: false);
    }

    /// <summary>
    /// Chunks deleted per statement when results expire: a few dozen MiB at most, so that one huge result is given back
    /// in many short transactions rather than one long one that holds its locks and its WAL until it ends.
    /// </summary>
    private const int ExpiredChunksPerDelete = 500;

    /// <summary>The advisory lock of the sweeper ("QSsweep"): one instance sweeps at a time.</summary>
    public const long SweeperLockKey = 0x51537377656570;

    /// <summary>
    /// The sweep: expired results' rows deleted in bounded batches by one instance at a time (every instance's sweeper
    /// calls this on its interval; one that finds another deleting leaves the rows to it instead of deleting the same
    /// ones beside it), then the time step, which every caller applies (under the scheduler's lock, so one at a time
    /// too): a caller that asks for the step gets it, whoever deletes the rows.
    /// </summary>
    /// <remarks>
    /// The deleters' lock is transaction-scoped, in a transaction of its own held open (idle, holding nothing else)
    /// while the deletes' own short transactions run on other connections: however the sweep ends, even with this
    /// process killed, the transaction ends and the lock with it. A session lock could stay behind on a pooled connection.
    /// </remarks>
    public async ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        _pages.RemoveExpired();
        var (connection, transaction, sweeping) = await GuardAsync("The PostgreSQL store could not take the sweeper's lock.", async () =>
        {
            var lockConnection = await _data.OpenConnectionAsync(cancellationToken);
            try
            {
                var lockTransaction = await lockConnection.BeginTransactionAsync(cancellationToken);
                await using var take = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock($1)", lockConnection);
                take.Parameters.Add(new NpgsqlParameter { Value = SweeperLockKey });
                return (lockConnection, lockTransaction, (bool)(await take.ExecuteScalarAsync(cancellationToken))!);
            }
            catch
            {
                await lockConnection.DisposeAsync();
                throw;
            }
        });
        await using (connection)
        await using (transaction)
        {
            if (sweeping)
            {
                await DeleteExpiredRowsAsync(cancellationToken);
            }
        }
        return await SweepAsync(cancellationToken);
    }

    /// <summary>
    /// The rows of results whose retention has passed, in bounded batches, each its own transaction; then the runs the time
    /// step left for their rows are due for removal again. Safe before the step removes them: a read already treats such a
    /// run as gone, and nothing writes to it any more.
    /// </summary>
    internal async Task DeleteExpiredRowsAsync(CancellationToken cancellationToken, int chunksPerDelete = ExpiredChunksPerDelete) =>
        await GuardAsync("The PostgreSQL store could not delete expired rows.", async () =>
        {
            await using var connection = await _data.OpenConnectionAsync(cancellationToken);
            await using var delete = new NpgsqlCommand(
                """
                DELETE FROM row_chunks WHERE ctid = ANY(ARRAY(
                    SELECT c.ctid FROM row_chunks c JOIN runs r ON r.run_id = c.run_id
                    WHERE r.expires_at <= $1
                    LIMIT $2))
                """, connection);
            delete.Parameters.Add(new NpgsqlParameter { Value = _time.GetUtcNow() });
            delete.Parameters.Add(new NpgsqlParameter { Value = chunksPerDelete });
            while (await delete.ExecuteNonQueryAsync(cancellationToken) == chunksPerDelete)
            {
            }
            // Runs whose removal the time step left for their rows to go first (RunDeadlinePassedAsync) are due again.
            await using var rearm = new NpgsqlCommand(
                $"UPDATE runs r SET deadline = r.expires_at WHERE r.deadline IS NULL AND r.expires_at <= $1 AND NOT {RowChunks.AnyOfRunSql("r.run_id")}",
                connection);
            rearm.Parameters.Add(new NpgsqlParameter { Value = _time.GetUtcNow() });
            await rearm.ExecuteNonQueryAsync(cancellationToken);
            return 0;
        });

    private async ValueTask<int> SweepAsync(CancellationToken cancellationToken)
    {
        var removed = await WriteAsync(exclusive: true, (_, _) => Task.FromResult(0), cancellationToken, countRemoved: true);
        // The gauges' figures after the step, outside its lock: they read every chunk's size, which must not hold up
        // every writer (under the lock it did, for seconds on a large store: bench/RESULTS.md).
        var holdings = await GuardAsync("The PostgreSQL store could not measure what it holds.", async () =>
        {
            await using var connection = await _data.OpenConnectionAsync(cancellationToken);
            return await ReadRowAsync(connection,
                """
                SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM tasks),
                       (SELECT coalesce(sum(row_count), 0)::bigint FROM row_chunks),
                       (SELECT coalesce(sum(length(bytes) - (row_count - 1)), 0)::bigint FROM row_chunks),
                       (SELECT count(DISTINCT license_id) FROM runs)
                """, [], r => new StoreHoldings(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)),
                cancellationToken);
        });
        Volatile.Write(ref _holdings, (object)holdings);
        return removed;
    }

    public async ValueTask<WriteOutcome> SubmitAsync(SubmitCommand command, CancellationToken cancellationToken)
    {
        var payloads = command.SubQueries.Select(p => p.ToArray()).ToArray();
        return await WriteAsync(exclusive: false, async (connection, now) =>
        {
            await JoinLicenseAsync(connection, command.LicenseId, cancellationToken);
            var old = await ReadRowAsync(connection,
                "SELECT run_id, status FROM runs WHERE license_id = $1 AND schedule_id = $2 FOR UPDATE",
                [command.LicenseId, command.ScheduleId], r => (Id: r.GetInt64(0), Status: ParseStatus(r.GetString(1))), cancellationToken);
            if (old.Id != 0)
            {
                if (!old.Status.IsFinished())
                {
                    return WriteOutcome.Refused(RunRefusal.RunNotFinished, old.Status);
                }
                await ExecuteAsync(connection, "DELETE FROM runs WHERE run_id = $1", [old.Id], cancellationToken);
            }

            var scheduled = command.NotBefore is { } notBefore && notBefore > now;
            var runId = await InsertRunAsync(connection, command.LicenseId, command.ScheduleId,
                scheduled ? ScheduleStatus.Scheduled : ScheduleStatus.Queued,
                queuedAt: scheduled ? null : now, finishedAt: null,
                deadline: scheduled ? command.NotBefore!.Value : now + _scheduler.MaxRunTime, failure: null, cancellationToken,
                notBefore: command.NotBefore);
            await InsertTasksAsync(connection, runId, command.LicenseId, 0, payloads, queued: !scheduled, cancellationToken);
            if (!scheduled)
            {
                await EnterRotationAsync(connection, command.LicenseId, cancellationToken);
                await NotifyAsync(connection, cancellationToken);
            }
            return new WriteOutcome(WriteResult.Ok, Status: await SnapshotOfAsync(connection, runId, cancellationToken));
        }, cancellationToken);
    }

    public async ValueTask<WriteOutcome> StopAsync(string licenseId, string scheduleId, CancellationToken cancellationToken) =>
        await WriteAsync(exclusive: false, async (connection, now) =>
        {
            await ExecuteAsync(connection, "SELECT 1 FROM licenses WHERE license_id = $1 FOR UPDATE", [licenseId], cancellationToken);
            var run = await ReadRowAsync(connection,
                "SELECT run_id, status FROM runs WHERE license_id = $1 AND schedule_id = $2 FOR UPDATE",
                [licenseId, scheduleId], r => (Id: r.GetInt64(0), Status: ParseStatus(r.GetString(1))), cancellationToken);
            if (run.Id == 0)
            {
                return WriteOutcome.Refused(RunRefusal.ScheduleNotFound);
            }
            if (run.Status.IsFinished())
            {
                return WriteOutcome.Refused(RunRefusal.RunAlreadyFinished, run.Status);
            }
            await FinishAsync(connection, run.Id, ScheduleStatus.Stopped, now, null, cancellationToken);
            return new WriteOutcome(WriteResult.Ok, Status: await SnapshotOfAsync(connection, run.Id, cancellationToken));
        }, cancellationToken);

    // ---- building blocks ------------------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="body"/> in one transaction under the scheduler lock (exclusive when asked or when a deadline
    /// is due, then after the time step unless <paramref name="step"/> is false), and commits. With <paramref name="countRemoved"/> it answers how many runs the
    /// step removed instead of the body's answer.
    /// </summary>
    private Task<T> WriteAsync<T>(
        bool exclusive, Func<NpgsqlConnection, DateTimeOffset, Task<T>> body, CancellationToken cancellationToken, bool countRemoved = false, bool step = true) =>
        GuardAsync("A PostgreSQL store transaction failed.", async () =>
        {
            await using var connection = await _data.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var now = _time.GetUtcNow();
            var stepNow = exclusive || step && await ReadRowAsync(connection,
                """
                SELECT EXISTS (SELECT 1 FROM runs WHERE deadline <= $1)
                    OR EXISTS (SELECT 1 FROM tasks WHERE state = 'RUNNING' AND lease_expires_at <= $1)
                """, [now], r => r.GetBoolean(0), cancellationToken);
            await ExecuteAsync(connection,
                stepNow ? "SELECT pg_advisory_xact_lock($1)" : "SELECT pg_advisory_xact_lock_shared($1)",
                [SchedulerLockKey], cancellationToken);
            var removed = stepNow && step ? await StepAsync(connection, now, cancellationToken) : 0;
            var result = await body(connection, now);
            await transaction.CommitAsync(cancellationToken);
            return countRemoved ? (T)(object)removed : result;
        });

    /// <summary>How many times a transaction runs when PostgreSQL rolls it back for a conflict with another one.</summary>
    private const int ConflictAttempts = 3;

    /// <summary>
    /// The store's one boundary with the database's failures. A conflict with a concurrent transaction (serialization
    /// failure, deadlock, a unique key another instance inserted first) rolled the whole transaction back, so it runs
    /// again; a conflict that persists, a database that cannot be reached or a statement that timed out becomes a
    /// <see cref="StoreUnavailableException"/> (503 with <c>Retry-After</c>), its cause for the log only.
    /// </summary>
    /// <remarks>
    /// A connection that broke (a restart, a failover, a network cut) usually broke with every idle one beside it in
    /// the pool: the pool is emptied so that the next requests open fresh connections instead of each meeting a dead one.
    /// </remarks>
    private async Task<T> GuardAsync<T>(string failure, Func<Task<T>> operation)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation();
            }
            catch (PostgresException e) when (attempt < ConflictAttempts && e.SqlState is
                PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.UniqueViolation)
            {
            }
            catch (NpgsqlException e)
            {
                if (e is not PostgresException { SqlState: var state } || state.StartsWith("08", StringComparison.Ordinal) || state.StartsWith("57P", StringComparison.Ordinal))
                {
                    _data.Clear();
                }
                throw new StoreUnavailableException(failure, e);
            }
        }
    }

    private async Task<long> InsertRunAsync(
        NpgsqlConnection connection, string licenseId, string scheduleId, ScheduleStatus status, DateTimeOffset? queuedAt,
        DateTimeOffset? finishedAt, DateTimeOffset? deadline, Failure? failure, CancellationToken cancellationToken,
        DateTimeOffset? notBefore = null) =>
        await ReadRowAsync(connection,
            """
            WITH run AS (
                INSERT INTO runs (license_id, schedule_id, status, not_before, queued_at, finished_at, expires_at, deadline, failure_code, failure_message)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                RETURNING run_id),
            counter AS (INSERT INTO run_rows (run_id) SELECT run_id FROM run)
            SELECT run_id FROM run
            """,
            [licenseId, scheduleId, status.ToWire(), Nullable(notBefore), Nullable(queuedAt), Nullable(finishedAt), Nullable(RetainedUntil(finishedAt)),
             Nullable(deadline), (object?)failure?.Code ?? DBNull.Value, (object?)failure?.Message ?? DBNull.Value],
            r => r.GetInt64(0), cancellationToken);

    /// <summary>Adds tasks to a run from ordinal <paramref name="firstOrdinal"/>: at the back of the queue, or PENDING.</summary>
    private static async Task InsertTasksAsync(
        NpgsqlConnection connection, long runId, string licenseId, int firstOrdinal, byte[][] payloads, bool queued,
        CancellationToken cancellationToken)
    {
        if (payloads.Length == 0)
        {
            return;
        }
        var ids = payloads.Select(_ => NewTaskId()).ToArray();
        await ExecuteAsync(connection,
            """
            INSERT INTO tasks (task_id, run_id, license_id, ordinal, payload, state, queue_seq)
            SELECT u.id, $1, $2, ($3 + u.ord - 1)::int, u.payload, $6, CASE WHEN $6 = 'QUEUED' THEN nextval('queue_seq') END
            FROM (SELECT * FROM unnest($4::text[], $5::bytea[]) WITH ORDINALITY AS x(id, payload, ord) ORDER BY ord OFFSET 0) u
            """,
            [runId, licenseId, firstOrdinal, ids, payloads, queued ? "QUEUED" : "PENDING"], cancellationToken);
    }

    /// <summary>Makes sure the license has its row, and locks it (the first lock of a writer: license, run, task).</summary>
    private static async Task JoinLicenseAsync(NpgsqlConnection connection, string licenseId, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, "INSERT INTO licenses (license_id) VALUES ($1) ON CONFLICT DO NOTHING", [licenseId], cancellationToken);
        await ExecuteAsync(connection, "SELECT 1 FROM licenses WHERE license_id = $1 FOR UPDATE", [licenseId], cancellationToken);
    }

    /// <summary>A license whose queue was empty joins the rotation at the back; one already in it keeps its place.</summary>
    private static Task EnterRotationAsync(NpgsqlConnection connection, string licenseId, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, "UPDATE licenses SET rotation = nextval('rotation_seq') WHERE license_id = $1 AND rotation IS NULL",
            [licenseId], cancellationToken);

    private Task NotifyAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        _wakeups is null ? Task.CompletedTask : PostgresWakeups.NotifyAsync(connection, cancellationToken);

    private async Task<StatusSnapshot?> SnapshotOfAsync(NpgsqlConnection connection, long runId, CancellationToken cancellationToken) =>
        (await FindRunAsync(connection, runId, new PageWindow(0, 0, 0), cancellationToken))?.Snapshot;

    /// <summary>A run's snapshot by its id, with the page of <paramref name="window"/> if it succeeded; null if it is gone.</summary>
    private static async Task<Found?> FindRunAsync(NpgsqlConnection connection, long runId, PageWindow window, CancellationToken cancellationToken)
    {
        var (start, end) = AsAsked(window);
        return (await SnapshotsAsync(connection,
            "SELECT 1::bigint AS n, $2::bigint AS start_row, $3::bigint AS end_row, 0::bigint AS held_run, NULL::timestamptz AS held_expires, r.* FROM runs r WHERE r.run_id = $1",
            [runId, start, end], [window], [null], cancellationToken))[0];
    }

    /// <summary>
    /// Runs' status, counters and pages in one statement: one round trip and one snapshot of the database, so that each
    /// page always belongs to the status beside it. <paramref name="runs"/> selects the runs to read (columns <c>n</c>,
    /// the read's number from 1, <c>start_row</c>, <c>end_row</c>, and <c>held_run</c> and <c>held_expires</c>, the id and
    /// expiry of the run whose page <paramref name="held"/> holds for that read or 0 and null, then the run's); the
    /// answer has a snapshot or null per window, in order. The snapshot's columns repeat on each of its page's slices
    /// (a handful of rows, in no particular order; a run with no page, or whose page is held, gives one row with no
    /// slice).
    /// </summary>
    private static async Task<Found?[]> SnapshotsAsync(
        NpgsqlConnection connection, string runs, object?[] parameters, PageWindow[] windows, PageCache.Held?[] held,
        CancellationToken cancellationToken)
    {
        await using var command = Command(connection,
            $"""
            WITH s AS MATERIALIZED (
                SELECT r.n, r.start_row, r.end_row, r.run_id, r.schedule_id, r.status, r.failure_code, r.failure_message, r.expires_at, r.total_rows,
                       k.ready, k.total,
                       (SELECT count(*) FROM tasks t WHERE t.license_id = r.license_id AND t.state = 'QUEUED')::int AS queued,
                       (SELECT count(*) FROM tasks t WHERE t.license_id = r.license_id AND t.state = 'RUNNING')::int AS running,
                       -- The page held is this run's (PageCache): the one place that decides it, for the slices below and the caller.
                       coalesce(r.run_id = r.held_run AND r.expires_at = r.held_expires, false) AS page_held
                FROM ({runs}) r
                -- Both counts of the run's tasks in one pass (two subqueries cost a third more per poll; bench/RESULTS.md).
                CROSS JOIN LATERAL (
                    SELECT count(*) FILTER (WHERE t.state = 'DONE')::int AS ready, count(*)::int AS total FROM tasks t WHERE t.run_id = r.run_id) k
            )
            SELECT s.*, p.slice, p.first_row
            FROM s LEFT JOIN LATERAL (
                -- Only a succeeded run has pages, and only one whose page is not held is sent it. OFFSET 0 keeps the
                -- subquery whole, so that PostgreSQL tests these conditions once per run before looking at any chunk.
                SELECT * FROM ({RowChunks.PageSlicesSql("s.run_id", "s.start_row", "s.end_row")}) x
                WHERE s.status = 'SUCCESS' AND NOT s.page_held OFFSET 0) p ON true
            """, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new (StatusSnapshot Snapshot, long RunId, bool PageHeld, RowChunks.PageSlices Slices)?[windows.Length];
        while (await reader.ReadAsync(cancellationToken))
        {
            var i = checked((int)reader.GetInt64(0) - 1);
            if (found[i] is not { } read)
            {
                var status = ParseStatus(reader.GetString(5));
                var failure = reader.IsDBNull(6) ? null : new Failure(reader.GetString(6), reader.GetString(7));
                var expiresAt = reader.IsDBNull(8) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(8);
                var total = status == ScheduleStatus.Success ? reader.GetInt64(9) : 0;
                var snapshot = new StatusSnapshot(reader.GetString(4), status, reader.GetInt32(10), reader.GetInt32(11),
                    reader.GetInt32(12), reader.GetInt32(13), failure, expiresAt, total, RowPage.Empty(0));
                found[i] = read = (snapshot, reader.GetInt64(3), reader.GetBoolean(14), new RowChunks.PageSlices());
            }
            if (!reader.IsDBNull(15))
            {
                read.Slices.Add(reader.GetInt64(16), RowChunks.ReadSlice(reader, 15));
            }
        }
        var snapshots = new Found?[windows.Length];
        for (var i = 0; i < snapshots.Length; i++)
        {
            if (found[i] is { } read)
            {
                var (start, end) = windows[i].Resolve(read.Snapshot.TotalRows);
                // A held page was cut from the same rows for the same window: the run's rows and total never change.
                var page = read.PageHeld ? held[i]!.Page : read.Slices.ToPage(start, end);
                snapshots[i] = new Found(read.Snapshot with { Page = page }, read.RunId, read.PageHeld);
            }
        }
        return snapshots;
    }

    /// <summary>
    /// A run's snapshot, the run's id (which the snapshot, a client's view, does not carry), and whether its page is the
    /// one the poll's <see cref="PageCache"/> entry held.
    /// </summary>
    private readonly record struct Found(StatusSnapshot Snapshot, long RunId, bool PageHeld);

    /// <summary>The retention rule: a run that finished at <paramref name="finishedAt"/> is gone from then plus retention.</summary>
    private DateTimeOffset? RetainedUntil(DateTimeOffset? finishedAt) => finishedAt + _retention;

    private static string NewTaskId() => "t_" + RandomIds.UrlSafe(18);

    private static ScheduleStatus ParseStatus(string text) =>
        ScheduleStatusNames.TryParse(text, out var status) ? status : throw new InvalidOperationException($"Unknown run status '{text}'.");

    private static NpgsqlParameter Nullable(DateTimeOffset? value) =>
        new() { Value = value is { } v ? v.ToUniversalTime() : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz };

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, object?[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter switch
            {
                NpgsqlParameter given => given,
                null => new NpgsqlParameter { Value = DBNull.Value },
                DBNull => new NpgsqlParameter { Value = DBNull.Value },
                string?[] texts => new NpgsqlParameter { Value = texts, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text },
                // Npgsql writes timestamptz from UTC values only; a caller's time may carry any offset (the same instant).
                DateTimeOffset time => new NpgsqlParameter { Value = time.ToUniversalTime() },
                _ => new NpgsqlParameter { Value = parameter },
            });
        }
        return command;
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first row mapped by <paramref name="map"/>, or default when there is none.</summary>
    private static async Task<T?> ReadRowAsync<T>(
        NpgsqlConnection connection, string sql, object?[] parameters, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? map(reader) : default;
    }

    private static async Task<List<T>> ReadRowsAsync<T>(
        NpgsqlConnection connection, string sql, object?[] parameters, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }
        return rows;
    }
}
