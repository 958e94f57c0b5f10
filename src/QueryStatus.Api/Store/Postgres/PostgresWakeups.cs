using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// Wakes this instance's waiting lease calls when work becomes ready through any instance: a write that makes a task
/// leasable sends <c>NOTIFY</c> in its transaction (<see cref="NotifyAsync"/>, delivered only if it commits, after it
/// does), and one connection per instance listens. Waiters take <see cref="Signal"/> before they look for work and
/// wait on it after finding none, so a notification between the two is never lost; nothing polls the database.
/// </summary>
/// <remarks>
/// When the listening connection breaks, it is opened again (after a pause that doubles up to 5 s) and every waiter is
/// woken once, since notifications sent meanwhile are lost: each looks again. Notifications carry no payload: a waiter
/// only needs to know that it is worth looking.
/// </remarks>
public sealed class PostgresWakeups([FromKeyedServices(PostgresDataSource.Sessions)] NpgsqlDataSource dataSource, ILogger<PostgresWakeups> logger, ScheduleChanges? changes = null)
    : IAsyncDisposable
{
    public const string Channel = "querystatus_work";

    /// <summary>
    /// The store's change events (<see cref="ScheduleChanges"/>), sent by the schema's triggers (0002_status_changes.sql)
    /// with the query's <c>["license_id","schedule_id"]</c>: a long-poll on this instance wakes for a change made through any.
    /// </summary>
    public const string StatusChannel = "querystatus_status";

    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _signal = NewSignal();
    private Task? _listening;

    /// <summary>Completes at the next wake-up after it was read.</summary>
    public Task Signal => Volatile.Read(ref _signal).Task;

    /// <summary>How many times the listening connection was (re)opened (for tests and logs).</summary>
    public int Connections { get; private set; }

    /// <summary>Starts listening; returns once the first LISTEN is in place, so nothing committed after it is missed.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var connection = await ListenAsync(cancellationToken);
        _listening = Task.Run(() => LoopAsync(connection, _stopping.Token), CancellationToken.None);
    }

    /// <summary>Sends the wake-up in <paramref name="connection"/>'s current transaction (or at once without one).</summary>
    public static async Task NotifyAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"NOTIFY {Channel}", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<NpgsqlConnection> ListenAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        connection.Notification += (_, e) =>
        {
            if (e.Channel == StatusChannel)
            {
                StatusChanged(e.Payload);
            }
            else
            {
                Wake();
            }
        };
        await using (var listen = new NpgsqlCommand($"LISTEN {Channel}; LISTEN {StatusChannel}", connection))
        {
            await listen.ExecuteNonQueryAsync(cancellationToken);
        }
        Connections++;
        return connection;
    }

    private async Task LoopAsync(NpgsqlConnection connection, CancellationToken stopping)
    {
        var pause = TimeSpan.FromMilliseconds(100);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Returns when a notification arrived (the handler has run); throws when the connection breaks.
                await connection.WaitAsync(stopping);
                pause = TimeSpan.FromMilliseconds(100);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
            {
                logger.LogWarning(e, "The PostgreSQL wake-up connection broke; opening it again in {Pause}.", pause);
                // Waiters can no longer count on being woken: each looks now (and answers 503 if the database is gone).
                WakeEveryone();
                await connection.DisposeAsync();
                connection = await ReopenAsync(pause, stopping);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                // Whatever was notified while the connection was down is lost: let every waiter look again.
                WakeEveryone();
            }
        }
        await connection.DisposeAsync();
    }

    private async Task<NpgsqlConnection> ReopenAsync(TimeSpan pause, CancellationToken stopping)
    {
        while (true)
        {
            await Task.Delay(pause, stopping);
            try
            {
                return await ListenAsync(stopping);
            }
            catch (Exception e) when (e is NpgsqlException or IOException)
            {
                logger.LogWarning(e, "Could not reopen the PostgreSQL wake-up connection; retrying.");
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private void StatusChanged(string payload)
    {
        if (changes is null)
        {
            return;
        }
        try
        {
            if (System.Text.Json.JsonSerializer.Deserialize<string[]>(payload) is [var licenseId, var scheduleId])
            {
                changes.Publish(licenseId, scheduleId);
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not ours (someone else notifying on the channel): nothing to wake.
        }
    }

    /// <summary>Every waiter of this instance looks again: lease calls and status long-polls.</summary>
    private void WakeEveryone()
    {
        Wake();
        changes?.PublishAll();
    }

    private void Wake() => Interlocked.Exchange(ref _signal, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_listening is not null)
        {
            try
            {
                await _listening;
            }
            catch (OperationCanceledException)
            {
                // Stopped while reopening.
            }
        }
        _stopping.Dispose();
    }
}
