using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using QueryStatus.Api.Store;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// Wake-ups between instances through a real server: two data sources on one database stand for two instances.
/// No timing is asserted: a wake-up must come, and the generous guard only keeps a broken build from hanging.
/// </summary>
public sealed class PostgresWakeupsTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ACommittedNotifyOnOneInstanceWakesTheOther()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        await using var instanceA = NpgsqlDataSource.Create(database);
        await using var instanceB = NpgsqlDataSource.Create(database);
        await using var wakeups = new PostgresWakeups(instanceB, NullLogger<PostgresWakeups>.Instance);
        await wakeups.StartAsync(CancellationToken.None);
        var signal = wakeups.Signal;

        await using (var connection = await instanceA.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await PostgresWakeups.NotifyAsync(connection, CancellationToken.None);
            // Not before the commit: the task it announces is not visible yet.
            Assert.False(signal.IsCompleted);
            await transaction.CommitAsync();
        }

        await signal.WaitAsync(Guard);
        Assert.True(signal.IsCompletedSuccessfully);
        Assert.False(wakeups.Signal.IsCompleted, "a new signal waits for the next wake-up");
    }

    [Fact]
    public async Task AStatusNotificationWakesTheWatchersOfThatQueryOnly()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        await using var instance = NpgsqlDataSource.Create(database);
        var changes = new ScheduleChanges();
        await using var wakeups = new PostgresWakeups(instance, NullLogger<PostgresWakeups>.Instance, changes);
        await wakeups.StartAsync(CancellationToken.None);
        using var watched = changes.Subscribe("lic_1", "q_a");
        using var other = changes.Subscribe("lic_1", "q_b");
        using var otherLicense = changes.Subscribe("lic_2", "q_a");

        await using (var connection = await instance.OpenConnectionAsync())
        await using (var notify = new NpgsqlCommand($"SELECT pg_notify('{PostgresWakeups.StatusChannel}', '[\"lic_1\",\"q_a\"]')", connection))
        {
            await notify.ExecuteNonQueryAsync();
        }

        await watched.Changed.WaitAsync(Guard);
        Assert.False(other.Changed.IsCompleted);
        Assert.False(otherLicense.Changed.IsCompleted);
    }

    [Fact]
    public async Task ABrokenListeningConnectionWakesEveryWaiterAndIsReopened()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        await using var instance = NpgsqlDataSource.Create(database);
        var changes = new ScheduleChanges();
        await using var wakeups = new PostgresWakeups(instance, NullLogger<PostgresWakeups>.Instance, changes);
        await wakeups.StartAsync(CancellationToken.None);
        var beforeBreak = wakeups.Signal;
        using var watch = changes.Subscribe("lic", "watched");

        await using (var admin = NpgsqlDataSource.Create((await PostgresServer.GetAsync()).AdminConnectionString))
        await using (var kill = admin.CreateCommand(
            $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %'"))
        {
            // This test's database has one listener, the instance's.
            kill.Parameters.Add(new NpgsqlParameter { Value = new NpgsqlConnectionStringBuilder(database).Database });
            Assert.Equal(1L, await kill.ExecuteScalarAsync());
        }

        // Waiters can no longer count on notifications: the break wakes them, lease calls and long-polls alike.
        await beforeBreak.WaitAsync(Guard);
        await watch.Changed.WaitAsync(Guard);

        // The connection is opened again by itself, and the reopening wakes everyone once more (it counts the connection
        // first, so either the count already says so or the signal taken before looking completes when it does).
        var reopened = wakeups.Signal;
        if (wakeups.Connections < 2)
        {
            await reopened.WaitAsync(Guard);
        }
        Assert.Equal(2, wakeups.Connections);

        // And notifications reach it again.
        var afterBreak = wakeups.Signal;
        await using (var connection = await instance.OpenConnectionAsync())
        {
            await PostgresWakeups.NotifyAsync(connection, CancellationToken.None);
        }
        await afterBreak.WaitAsync(Guard);
    }
}
