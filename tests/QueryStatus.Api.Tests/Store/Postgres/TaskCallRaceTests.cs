using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using QueryStatus.Api.Store;
using QueryStatus.Api.Store.Postgres;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// Task calls and leases that meet on PostgreSQL's locks. Each test makes the meeting happen rather than hoping for it:
/// a connection of the test holds one task's row (what a concurrent heartbeat of that task holds for its few
/// milliseconds), store calls queue behind it, and the test lets go once PostgreSQL shows them waiting.
/// </summary>
public sealed class TaskCallRaceTests
{
    private static readonly LeaseCommand LeaseTwo = new("w", 2, TimeSpan.FromHours(1));

    [Fact]
    public async Task ACompletionGoesOnBesideARowBatchOfItsRunAndTheLimitStillHolds()
    {
        var (dataSource, store, _) = await StoreAsync(maxRows: 10);
        await using var _data = dataSource;
        var (t1, t2) = await SubmitAndLeaseTwoAsync(store);

        await using var holder = await HoldTaskAsync(dataSource, t2.TaskId);
        var append = store.AppendRowsAsync(t2.TaskId, t2.LeaseToken, 0, Rows(6), CancellationToken.None).AsTask(); // shares the run
        await WaitForLockWaitersAsync(dataSource, 1);

        // The batch holds the run shared and waits for its task: the completion of the other task does not wait for it
        // (the bound only turns a completion stuck behind the batch into a failure instead of a hang).
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var completed = await store.CompleteAsync(t1.TaskId, t1.LeaseToken, Rows(6), [], bound.Token);
        Assert.Equal((WriteResult.Ok, TaskState.Done), (completed.Result, completed.TaskState));
        Assert.False(append.IsCompleted);
        await holder.ReleaseAsync();

        // 6 + 6 rows pass the limit of 10: the batch that came second fails the run as too large.
        var appended = await append;
        Assert.Equal((WriteResult.Conflict, TaskRefusal.ResultTooLarge), (appended.Result, appended.Refusal));
        var status = await store.GetStatusAsync("lic", "q", new PageWindow(0, null, 100), CancellationToken.None);
        Assert.Equal(ScheduleStatus.Failure, status!.Status);
        Assert.Equal(Failure.ResultTooLarge(10).Code, status.Failure!.Code);
    }

    [Fact]
    public async Task ACompletionWhoseRowsPassTheLimitWaitsForTheRunsBatchesAndFailsTheRun()
    {
        var (dataSource, store, _) = await StoreAsync(maxRows: 10);
        await using var _data = dataSource;
        var (t1, t2) = await SubmitAndLeaseTwoAsync(store);
        Assert.Equal(WriteResult.Ok, (await store.AppendRowsAsync(t1.TaskId, t1.LeaseToken, 0, Rows(6), CancellationToken.None)).Result);

        await using var holder = await HoldTaskAsync(dataSource, t2.TaskId);
        var append = store.AppendRowsAsync(t2.TaskId, t2.LeaseToken, 0, Rows(1), CancellationToken.None).AsTask(); // shares the run
        await WaitForLockWaitersAsync(dataSource, 1);
        // 6 + 6 pass the limit: the completion is made again holding the run alone, behind the batch.
        var complete = store.CompleteAsync(t1.TaskId, t1.LeaseToken, Rows(6), [], CancellationToken.None).AsTask();
        await WaitForLockWaitersAsync(dataSource, 2);
        await holder.ReleaseAsync();

        Assert.Equal(WriteResult.Ok, (await append).Result);
        var completed = await complete;
        Assert.Equal((WriteResult.Conflict, TaskRefusal.ResultTooLarge), (completed.Result, completed.Refusal));
        var status = await store.GetStatusAsync("lic", "q", new PageWindow(0, null, 100), CancellationToken.None);
        Assert.Equal(ScheduleStatus.Failure, status!.Status);
    }

    [Fact]
    public async Task ARowBatchThatWaitedBehindAFailureCountsTheRowsTheFailureGaveBack()
    {
        var (dataSource, store, _) = await StoreAsync(maxRows: 10);
        await using var _data = dataSource;
        var (t1, t2) = await SubmitAndLeaseTwoAsync(store);
        Assert.Equal(WriteResult.Ok, (await store.AppendRowsAsync(t1.TaskId, t1.LeaseToken, 0, Rows(8), CancellationToken.None)).Result);

        await using var holder = await HoldTaskAsync(dataSource, t1.TaskId);
        var fail = store.FailAsync(t1.TaskId, t1.LeaseToken, new TaskFailure("E", "transient", Retryable: true), CancellationToken.None).AsTask();
        await WaitForLockWaitersAsync(dataSource, 1); // the failure holds the run alone and waits for its task
        var append = store.AppendRowsAsync(t2.TaskId, t2.LeaseToken, 0, Rows(5), CancellationToken.None).AsTask();
        await WaitForLockWaitersAsync(dataSource, 2);
        await holder.ReleaseAsync();

        Assert.Equal(WriteResult.Ok, (await fail).Result); // retried: its 8 rows are given back
        var appended = await append;
        Assert.Equal((WriteResult.Ok, (TaskRefusal?)null, 5), (appended.Result, appended.Refusal, appended.RowsAccepted));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task BatchesThatAllPassTheLimitAtOnceFailTheRunWithoutADeadlock(int round)
    {
        Assert.True(round > 0); // rounds: the batches' interleaving differs from run to run
        var (dataSource, store, _) = await StoreAsync(maxRows: 10);
        await using var _data = dataSource;
        await store.SubmitAsync(new SubmitCommand("lic", "q", [.. Enumerable.Range(0, 9).Select(_ => Bytes("{}"))], null), CancellationToken.None);
        var tasks = await store.LeaseAsync(new LeaseCommand("w", 9, TimeSpan.FromHours(1)), TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(9, tasks.Count);
        Assert.Equal(WriteResult.Ok, (await store.AppendRowsAsync(tasks[0].TaskId, tasks[0].LeaseToken, 0, Rows(9), CancellationToken.None)).Result);

        // Eight batches of 3 rows at once into a run at 9 of 10: every one passes the limit. Before, each failed the run
        // holding its own task while waiting for the others' (40P01 after the retries: a 503 to the workers).
        var outcomes = await Task.WhenAll(tasks.Skip(1).Select(t =>
            Task.Run(async () => await store.AppendRowsAsync(t.TaskId, t.LeaseToken, 0, Rows(3), CancellationToken.None))));

        Assert.All(outcomes, o => Assert.Equal(WriteResult.Conflict, o.Result));
        Assert.Contains(outcomes, o => o.Refusal == TaskRefusal.ResultTooLarge);
        var status = await store.GetStatusAsync("lic", "q", new PageWindow(0, 0, 0), CancellationToken.None);
        Assert.Equal(ScheduleStatus.Failure, status!.Status);
    }

    [Fact]
    public async Task ALicenseWhoseQueuedTaskALeaseSkippedStaysInTheRotation()
    {
        var (dataSource, store, time) = await StoreAsync(maxRows: 1000);
        await using var _data = dataSource;
        await store.SubmitAsync(new SubmitCommand("lic", "q", [Bytes("{}")], null), CancellationToken.None);
        var first = Assert.Single(await store.LeaseAsync(new LeaseCommand("w", 1, TimeSpan.FromSeconds(30)), TimeSpan.Zero, CancellationToken.None));
        time.Advance(TimeSpan.FromMinutes(1));
        await store.RemoveExpiredAsync(CancellationToken.None); // the lease expired: the task is queued again

        // A late heartbeat of the expired lease holds the task's row while another worker leases: it skips the task.
        await using (var holder = await HoldTaskAsync(dataSource, first.TaskId))
        {
            Assert.Empty(await store.LeaseAsync(LeaseTwo, TimeSpan.Zero, CancellationToken.None));
        }

        var status = await store.GetStatusAsync("lic", "q", new PageWindow(0, 0, 0), CancellationToken.None);
        Assert.Equal(1, status!.TasksScheduled);
        var again = Assert.Single(await store.LeaseAsync(LeaseTwo, TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(first.TaskId, again.TaskId);
    }

    private static async Task<(NpgsqlDataSource, PostgresScheduleStore, FakeTimeProvider)> StoreAsync(long maxRows)
    {
        var dataSource = await StoreTestHelpers.MigratedDataSourceAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        var store = new PostgresScheduleStore(dataSource, time,
            Options.Create(new StoreOptions { Retention = TimeSpan.FromMinutes(10) }),
            Options.Create(new SchedulerOptions { MaxRowsPerRun = maxRows, DefaultMaxConcurrentTasks = 10 }));
        return (dataSource, store, time);
    }

    private static async Task<(LeasedTask, LeasedTask)> SubmitAndLeaseTwoAsync(PostgresScheduleStore store)
    {
        Assert.Equal(WriteResult.Ok, (await store.SubmitAsync(new SubmitCommand("lic", "q", [Bytes("{}"), Bytes("{}")], null), CancellationToken.None)).Result);
        var tasks = await store.LeaseAsync(LeaseTwo, TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(2, tasks.Count);
        return (tasks[0], tasks[1]);
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static ReadOnlyMemory<byte>[] Rows(int count) => [.. Enumerable.Range(0, count).Select(i => (ReadOnlyMemory<byte>)Bytes($"{{\"n\":{i}}}"))];

    /// <summary>A transaction of the test's own holding the task's row <c>FOR UPDATE</c> until released or disposed.</summary>
    private static async Task<TaskRowHolder> HoldTaskAsync(NpgsqlDataSource dataSource, string taskId)
    {
        var connection = await dataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("SELECT 1 FROM tasks WHERE task_id = $1 FOR UPDATE", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = taskId });
        await command.ExecuteNonQueryAsync();
        return new TaskRowHolder(connection, transaction);
    }

    private sealed class TaskRowHolder(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public async Task ReleaseAsync() => await transaction.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Until PostgreSQL shows <paramref name="count"/> sessions of this database waiting for a lock: a state, not a time
    /// (the bound only keeps a broken test from hanging).
    /// </summary>
    private static async Task WaitForLockWaitersAsync(NpgsqlDataSource dataSource, int count)
    {
        for (var i = 0; i < 400; i++)
        {
            await using var command = dataSource.CreateCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
            if ((long)(await command.ExecuteScalarAsync())! >= count)
            {
                return;
            }
            await Task.Delay(25);
        }
        throw new TimeoutException($"Fewer than {count} sessions of the test's database waited for a lock.");
    }
}
