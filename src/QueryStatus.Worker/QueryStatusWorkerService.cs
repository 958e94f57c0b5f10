using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace QueryStatus.Worker;

/// <summary>
/// The hosted service: leases tasks while it has free slots (a long-wait lease call, so an idle worker costs the
/// service one call per <c>LeaseWaitSeconds</c>), runs each through a fresh <typeparamref name="THandler"/> with a
/// heartbeat at a third of the lease, and completes or fails it. On shutdown it stops leasing at once and lets running
/// tasks finish until the host's shutdown timeout; tasks still running then are cancelled and their leases left to lapse.
/// </summary>
internal sealed class QueryStatusWorkerService<THandler>(
    IServiceProvider services,
    IOptions<QueryStatusWorkerOptions> options,
    TimeProvider time,
    ILogger<QueryStatusWorkerService<THandler>> logger) : IHostedService
    where THandler : class, ITaskHandler
{
    private readonly CancellationTokenSource _stopLeasing = new();
    private readonly CancellationTokenSource _abandon = new();
    private readonly ConcurrentDictionary<Task, byte> _running = new();
    private QueryStatusWorkerOptions? _options;
    private SemaphoreSlim? _slots;
    private Task? _leaseLoop;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _options = options.Value;
        _slots = new SemaphoreSlim(_options.MaxConcurrentTasks, _options.MaxConcurrentTasks);
        logger.LogInformation("Worker {WorkerId} leasing tasks from {BaseUrl}, up to {MaxConcurrentTasks} at a time, for {Handler}",
            _options.WorkerId, _options.BaseUrl, _options.MaxConcurrentTasks, typeof(THandler).Name);
        _leaseLoop = Task.Run(() => LeaseLoopAsync(_stopLeasing.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopLeasing.Cancel();
        try
        {
            if (_leaseLoop is not null)
            {
                await _leaseLoop.WaitAsync(cancellationToken);
            }
            var running = _running.Keys.ToArray();
            if (running.Length > 0)
            {
                logger.LogInformation("Stopped leasing; waiting for {Count} running tasks to finish", running.Length);
                await Task.WhenAll(running).WaitAsync(cancellationToken);
            }
            logger.LogInformation("Worker {WorkerId} stopped", _options?.WorkerId);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Shutdown timeout: abandoning {Count} running tasks; their leases will lapse and the service will retry them",
                _running.Count);
            _abandon.Cancel();
        }
    }

    private async Task LeaseLoopAsync(CancellationToken stopping)
    {
        var options = _options!;
        var slots = _slots!;
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await slots.WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var free = 1;
            while (free < options.MaxConcurrentTasks && slots.Wait(0))
            {
                free++;
            }

            IReadOnlyList<LeasedTask> tasks;
            try
            {
                tasks = await services.GetRequiredService<TaskApiClient>().LeaseAsync(free, stopping);
                failures = 0;
            }
            catch (Exception e)
            {
                slots.Release(free);
                if (stopping.IsCancellationRequested)
                {
                    break;
                }
                failures++;
                var delay = failures == 1 ? options.RetryDelay : options.MaxRetryDelay;
                logger.LogError("Leasing failed ({Error}: {Message}); trying again in {Delay}", e.GetType().Name, e.Message, delay);
                if (!await DelayAsync(delay, stopping))
                {
                    break;
                }
                continue;
            }

            if (free > tasks.Count)
            {
                slots.Release(free - tasks.Count);
            }
            foreach (var task in tasks)
            {
                var run = Task.Run(() => RunTaskAsync(task), CancellationToken.None);
                _running.TryAdd(run, 0);
                _ = run.ContinueWith(t => _running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }
            if (tasks.Count == 0 && options.LeaseWaitSeconds == 0 && !await DelayAsync(options.IdleDelay, stopping))
            {
                break;
            }
        }
        logger.LogInformation("Worker {WorkerId} stopped leasing", options.WorkerId);
    }

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(delay, time, stopping);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task RunTaskAsync(LeasedTask leased)
    {
        var options = _options!;
        var task = leased.Task;
        using var scope = logger.BeginScope(new Dictionary<string, object>
        {
            ["TaskId"] = task.TaskId, ["ScheduleId"] = task.ScheduleId, ["Attempt"] = task.Attempt,
        });
        try
        {
            await using var services1 = services.CreateAsyncScope();
            var api = services1.ServiceProvider.GetRequiredService<TaskApiClient>();
            using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_abandon.Token);
            var run = new TaskRun(leased, api, options, cancellation, logger);
            logger.LogDebug("Running task {TaskId} of {ScheduleId} (attempt {Attempt})", task.TaskId, task.ScheduleId, task.Attempt);
            await using var heartbeat = time.CreateTimer(static r => ((TaskRun)r!).Beat(), run, options.HeartbeatInterval, options.HeartbeatInterval);
            try
            {
                var handler = services1.ServiceProvider.GetRequiredService<THandler>();
                await handler.ExecuteAsync(task, run, cancellation.Token);
                run.Seal();
                await run.CompleteAsync(cancellation.Token);
                logger.LogInformation("Completed task {TaskId}: {Rows} rows", task.TaskId, run.RowCount);
            }
            catch (Exception) when (run.LeaseLost)
            {
                logger.LogWarning("Task {TaskId}: the lease is gone (the query was stopped or ended, or the lease expired); dropped it", task.TaskId);
            }
            catch (Exception) when (_abandon.IsCancellationRequested)
            {
                logger.LogWarning("Task {TaskId} abandoned at shutdown; its lease will lapse", task.TaskId);
            }
            catch (TaskFailureException e)
            {
                // An outcome the handler chose, not a crash: no stack trace, but the cause when it has one.
                logger.LogWarning(e.InnerException, "Task {TaskId} failed: {Code} (retryable: {Retryable}): {Message}",
                    task.TaskId, e.Code, e.Retryable, e.Message);
                await ReportFailureAsync(run, e.Code, e.Message, e.Retryable);
            }
            catch (TaskCallException e) when (e.Transient)
            {
                logger.LogWarning("Task {TaskId}: the service could not be reached ({Message}); reporting a retryable failure", task.TaskId, e.Message);
                await ReportFailureAsync(run, "WORKER_UNAVAILABLE", "The worker could not reach the service to deliver the task's results.", retryable: true);
            }
            catch (TaskCallException e)
            {
                logger.LogError("Task {TaskId}: {Message}", task.TaskId, e.Message);
                await ReportFailureAsync(run, "WORKER_ERROR",
                    $"The service refused the worker's call ({(e.Status is { } s ? (int)s : 0)} {e.ErrorCode}).", retryable: false);
            }
            catch (Exception e)
            {
                // The exception's message stays in the worker's log: it may hold what the query's owner must not see.
                logger.LogError(e, "Task {TaskId}: the handler failed", task.TaskId);
                await ReportFailureAsync(run, "WORKER_ERROR", $"The worker failed to run the task ({e.GetType().Name}).", retryable: false);
            }
        }
        catch (Exception e)
        {
            logger.LogError(e, "Task {TaskId}: unexpected failure in the worker", task.TaskId);
        }
        finally
        {
            _slots!.Release();
        }
    }

    private async Task ReportFailureAsync(TaskRun run, string code, string message, bool retryable)
    {
        if (message.Length > TaskFailureException.MaxMessageLength)
        {
            message = message[..(TaskFailureException.MaxMessageLength - 1)] + "…";
        }
        try
        {
            var outcome = await run.FailAsync(code, message, retryable, _abandon.Token);
            logger.LogInformation("Task {TaskId}: reported {Code} (retryable: {Retryable}){Outcome}", run.Task.TaskId, code, retryable,
                outcome == TaskCallOutcome.LeaseLost ? "; the lease was already gone" : "");
        }
        catch (Exception e)
        {
            logger.LogWarning("Task {TaskId}: could not report the failure ({Error}: {Message}); its lease will lapse",
                run.Task.TaskId, e.GetType().Name, e.Message);
        }
    }
}
