using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Store;

/// <summary>
/// Loads <c>Store:SeedFile</c> before the server starts taking requests, so nobody ever sees a
/// half-seeded store; a bad file fails start-up.
/// </summary>
public sealed partial class SeedLoader(IScheduleStore store, IOptions<StoreOptions> options, IHostEnvironment environment,
    ILogger<SeedLoader> logger) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.Value.SeedFile))
        {
            return;
        }
        var path = Path.IsPathRooted(options.Value.SeedFile)
            ? options.Value.SeedFile
            : Path.Combine(environment.ContentRootPath, options.Value.SeedFile);

        var records = SeedFile.Read(path);
        foreach (var record in records)
        {
            await store.PutAsync(record, cancellationToken);
        }
        LogSeeded(logger, records.Count, path);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Count} schedules from {SeedFile}")]
    private static partial void LogSeeded(ILogger logger, int count, string seedFile);
}

/// <summary>
/// Releases expired schedules' memory. Reads already answer 404 the moment a schedule expires; this
/// only frees what nobody polls any more. Runs on <see cref="TimeProvider"/> so tests can move time.
/// </summary>
/// <remarks>Takes <see cref="StoreMetrics"/> so that the store's gauges exist from start-up on, and logs the
/// same holdings after each sweep that removed something.</remarks>
public sealed partial class ExpirySweeper(IScheduleStore store, StoreMetrics metrics, IOptions<StoreOptions> options, TimeProvider time,
    ILogger<ExpirySweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var removed = await store.RemoveExpiredAsync(stoppingToken);
                    if (removed > 0)
                    {
                        var held = metrics.Read();
                        LogSwept(logger, removed, held.Schedules, held.Tasks, held.Rows);
                    }
                }
                catch (StoreUnavailableException e)
                {
                    LogSweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Being stopped is the end of the loop, not a fault. The host tells the two apart itself only after a
            // normal start: when start-up fails (a port in use), it disposes this service without stopping it first,
            // and a cancelled sweep would be logged as a failed background service at Fatal level.
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Removed {Count} expired schedules; holding {Schedules} schedules, {Tasks} tasks, {Rows} rows")]
    private static partial void LogSwept(ILogger logger, int count, long schedules, long tasks, long rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Expiry sweep failed; retrying on the next tick")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
