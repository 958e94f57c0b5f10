using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using QueryStatus.Api.Store;
using QueryStatus.Api.Store.Postgres;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>An expired result's rows leave the database in bounded batches, before the sweep removes its run.</summary>
public sealed class ExpiredRowsTests
{
    [Fact]
    public async Task ExpiredRowsGoInBatchesUntilNoneIsLeftAndLiveOnesStay()
    {
        await using var dataSource = await StoreTestHelpers.MigratedDataSourceAsync();
        var (store, time) = NewStore(dataSource);
        await StoreTestHelpers.SucceedAsync(store, "old", LargeRows("old"));
        time.Advance(TimeSpan.FromMinutes(5));
        await StoreTestHelpers.SucceedAsync(store, "new", LargeRows("new"));
        time.Advance(TimeSpan.FromMinutes(5)); // "old" has expired, "new" has five minutes left

        await store.DeleteExpiredRowsAsync(CancellationToken.None, chunksPerDelete: 2);

        Assert.Equal(0L, await ChunksOfAsync(dataSource, "old"));
        Assert.True(await ChunksOfAsync(dataSource, "new") >= 7);
        Assert.Equal(20, (await store.GetStatusAsync("lic", "new", new PageWindow(0, null, 10_000), CancellationToken.None))!.TotalRows);
    }

    [Fact]
    public async Task AnotherInstanceDeletingExpiredRowsDoesNotHoldUpTheTimeStep()
    {
        await using var dataSource = await StoreTestHelpers.MigratedDataSourceAsync();
        var (store, time) = NewStore(dataSource);
        await StoreTestHelpers.SucceedAsync(store, "old", [Encoding.UTF8.GetBytes("1")]);
        time.Advance(TimeSpan.FromMinutes(11));

        // Another instance is deleting expired rows: it holds the deleters' lock, for as long as it likes.
        await using var other = await dataSource.OpenConnectionAsync();
        await using var deleting = await other.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({PostgresScheduleStore.SweeperLockKey})", other))
        {
            await take.ExecuteNonQueryAsync();
        }

        // This instance's sweep neither waits for it nor deletes beside it, and still applies the time step: the result is
        // gone for readers, its rows and run left to the sweeper.
        Assert.Equal(0, await store.RemoveExpiredAsync(CancellationToken.None));
        Assert.Null(await store.GetStatusAsync("lic", "old", new PageWindow(0, null, 10), CancellationToken.None));
        Assert.Equal(1L, await RowChunksLeftAsync(dataSource));

        await deleting.RollbackAsync(); // the other instance's sweep is over; this one's next sweep deletes both
        Assert.Equal(1, await store.RemoveExpiredAsync(CancellationToken.None));
        Assert.Equal(0L, await RowChunksLeftAsync(dataSource));
        Assert.Equal(0L, await RunsLeftAsync(dataSource));
    }

    [Fact]
    public async Task AWriteAfterAResultExpiredLeavesItsRowsToTheSweepersBatches()
    {
        await using var dataSource = await StoreTestHelpers.MigratedDataSourceAsync();
        var (store, time) = NewStore(dataSource);
        await StoreTestHelpers.SucceedAsync(store, "old", LargeRows("old"));
        var chunks = await ChunksOfAsync(dataSource, "old");
        time.Advance(TimeSpan.FromMinutes(11));

        // The first write after the expiry applies the time step, in the writer's transaction: it must not delete a
        // whole result there (a large one would hold every writer for seconds), only stop it being due.
        Assert.Equal(WriteResult.Ok, (await store.SubmitAsync(new SubmitCommand("lic", "next", [Encoding.UTF8.GetBytes("{}")], null), CancellationToken.None)).Result);

        Assert.Null(await store.GetStatusAsync("lic", "old", new PageWindow(0, null, 10), CancellationToken.None));
        Assert.Equal(chunks, await ChunksOfAsync(dataSource, "old"));
        Assert.Equal(1, await store.RemoveExpiredAsync(CancellationToken.None)); // the sweeper: rows in batches, then the run
        Assert.Equal(0L, await RowChunksLeftAsync(dataSource));
        Assert.Equal(1L, await RunsLeftAsync(dataSource)); // "next"
    }

    private static (PostgresScheduleStore Store, FakeTimeProvider Time) NewStore(NpgsqlDataSource dataSource)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        return (new PostgresScheduleStore(dataSource, time,
            Options.Create(new StoreOptions { Retention = TimeSpan.FromMinutes(10) }), Options.Create(new SchedulerOptions())), time);
    }

    /// <summary>20 rows of 20 KB: three to a chunk, so a result of them is several chunks.</summary>
    private static ReadOnlyMemory<byte>[] LargeRows(string name) =>
        [.. Enumerable.Range(0, 20).Select(i => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"\"{name}{i}{new string('x', 20_000)}\""))];

    private static async Task<long> RunsLeftAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM runs");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<long> RowChunksLeftAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM row_chunks");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<long> ChunksOfAsync(NpgsqlDataSource dataSource, string scheduleId)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT count(*) FROM row_chunks c JOIN runs r ON r.run_id = c.run_id WHERE r.schedule_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = scheduleId });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
