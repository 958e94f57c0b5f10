using System.Buffers;
using System.Diagnostics;

namespace QueryStatus.Bench;

public sealed record IngestResult(string ScheduleId, long Rows, TimeSpan Elapsed, long ServerCpuUs)
{
    public double RowsPerSecond => Rows / Elapsed.TotalSeconds;

    /// <summary>The part of <see cref="ServerCpuUs"/> spent by the server's database (<see cref="Server.AlsoCount"/>).</summary>
    public long DatabaseCpuUs { get; init; }

    /// <summary>The share of the service's own CPU (without its database's) that went to recompiling methods (<see cref="Server.CpuUse.JitShare"/>).</summary>
    public double JitShare { get; init; }
}

public sealed record TaskSlice(double TasksPerSecond, long Tasks, double ServerCpuUsPerTask);

/// <summary>Loads results through the worker protocol and measures the write side.</summary>
public static class WriteSide
{
    /// <summary>
    /// Submits <paramref name="scheduleId"/> with <paramref name="parts"/> sub-queries and has
    /// <paramref name="workers"/> concurrent workers lease them, send <paramref name="rowsPerPart"/> rows each in
    /// batches of <paramref name="batchRows"/>, and complete them in sub-query order (so the store appends the
    /// result in place instead of reordering it at the end). Returns when the run is SUCCESS.
    /// </summary>
    public static async Task<IngestResult> IngestAsync(
        ApiClient api, Server server, string clientKey, string workerKey, string scheduleId,
        int parts, int rowsPerPart, int batchRows, int workers, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var mark = server.Mark();
        await api.SubmitAsync(clientKey, scheduleId, Enumerable.Range(0, parts).Select(p => $"{{\"part\":{p}}}"), cancellationToken);

        var completed = Enumerable.Range(0, parts)
            .Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var leased = 0;

        async Task Worker(int id)
        {
            var body = new ArrayBufferWriter<byte>(batchRows * 96 + 256);
            while (Volatile.Read(ref leased) < parts)
            {
                var lease = await api.LeaseOneAsync(workerKey, $"ingest-{id}", 600, 1, cancellationToken);
                if (lease is null)
                {
                    continue;
                }
                if (lease.ScheduleId != scheduleId)
                {
                    throw new BenchException($"ingest of {scheduleId} leased a task of {lease.ScheduleId}: the queue was not empty.");
                }
                Interlocked.Increment(ref leased);
                var part = lease.Payload.GetProperty("part").GetInt32();
                var firstRow = (long)part * rowsPerPart;
                var batch = 0;
                for (var sent = 0; sent < rowsPerPart; sent += batchRows, batch++)
                {
                    var count = Math.Min(batchRows, rowsPerPart - sent);
                    var rows = ApiClient.RowsBody(body, lease.LeaseToken, batch, firstRow + sent, count);
                    (await api.PostAsync($"/enterprise/v2/tasks/{lease.TaskId}/rows", workerKey, rows, cancellationToken)).Dispose();
                }
                if (part > 0)
                {
                    await completed[part - 1].Task.WaitAsync(cancellationToken);
                }
                (await api.PostAsync($"/enterprise/v2/tasks/{lease.TaskId}/complete", workerKey,
                    $"{{\"lease_token\":\"{lease.LeaseToken}\"}}", cancellationToken)).Dispose();
                completed[part].SetResult();
            }
        }

        var running = Enumerable.Range(0, workers).Select(Worker).ToList();
        // Done when the last sub-query is complete (the run is SUCCESS then). A worker that asked for a lease after the
        // last task was leased is still waiting out its wait_seconds for one that will not come: it is awaited after the
        // clock stops. Awaited before, it added up to that second to some rounds (1.5 s of ingest measured as 2.1).
        var allComplete = Task.WhenAll(completed.Select(c => c.Task));
        var workersDone = Task.WhenAll(running);
        if (await Task.WhenAny(allComplete, workersDone) == workersDone)
        {
            await workersDone; // A worker's failure, if one failed; otherwise every sub-query is complete.
        }
        await allComplete;
        clock.Stop();
        var used = server.Since(mark);
        await Task.WhenAll(running);
        return new IngestResult(scheduleId, (long)parts * rowsPerPart, clock.Elapsed, used.TotalUs)
        {
            DatabaseCpuUs = used.DatabaseUs,
            JitShare = used.JitShare,
        };
    }

    /// <summary>
    /// <paramref name="workers"/> concurrent workers lease one task at a time and complete it with one small row,
    /// while a feeder keeps the queue of <paramref name="clientKey"/>'s license stocked with 1,000-task queries.
    /// Counts completions in each of <paramref name="slices"/> windows of <paramref name="seconds"/>.
    /// </summary>
    public static async Task<List<TaskSlice>> TaskThroughputAsync(
        ApiClient api, Server server, string clientKey, string workerKey, int workers, int seconds, int slices,
        TimeSpan warmup, Action<string> log, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The whole measurement is bounded even if something hangs.
        stop.CancelAfter(warmup + TimeSpan.FromSeconds((seconds * slices) + 120));
        long submitted = 0, done = 0, empty = 0;
        const int QueryTasks = 1000;
        var subqueries = Enumerable.Range(0, QueryTasks).Select(i => $"{{\"n\":{i}}}").ToArray();

        async Task Feeder()
        {
            while (!stop.IsCancellationRequested)
            {
                if (Volatile.Read(ref submitted) - Volatile.Read(ref done) < 5 * QueryTasks)
                {
                    await api.SubmitAsync(clientKey, null, subqueries, stop.Token);
                    Interlocked.Add(ref submitted, QueryTasks);
                }
                else
                {
                    await Task.Delay(10, stop.Token);
                }
            }
        }

        async Task Worker(int id)
        {
            while (!stop.IsCancellationRequested)
            {
                var lease = await api.LeaseOneAsync(workerKey, $"tasks-{id}", 60, 0, stop.Token);
                if (lease is null)
                {
                    Interlocked.Increment(ref empty);
                    await Task.Delay(1, stop.Token);
                    continue;
                }
                (await api.PostAsync($"/enterprise/v2/tasks/{lease.TaskId}/complete", workerKey,
                    $"{{\"lease_token\":\"{lease.LeaseToken}\",\"rows\":[{{\"n\":1}}]}}", stop.Token)).Dispose();
                Interlocked.Increment(ref done);
            }
        }

        // Fill the queue before the workers start.
        for (var i = 0; i < 5; i++)
        {
            await api.SubmitAsync(clientKey, null, subqueries, cancellationToken);
            submitted += QueryTasks;
        }
        var loops = new List<Task> { Feeder() };
        loops.AddRange(Enumerable.Range(0, workers).Select(Worker));

        var results = new List<TaskSlice>();
        try
        {
            await Task.Delay(warmup, cancellationToken);
            for (var s = 0; s < slices; s++)
            {
                var doneBefore = Interlocked.Read(ref done);
                var cpuBefore = server.CpuMicroseconds();
                var clock = Stopwatch.StartNew();
                await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
                var tasks = Interlocked.Read(ref done) - doneBefore;
                var cpu = server.CpuMicroseconds() - cpuBefore;
                var slice = new TaskSlice(tasks / clock.Elapsed.TotalSeconds, tasks, tasks > 0 ? (double)cpu / tasks : double.NaN);
                results.Add(slice);
                log($"  tasks slice {s + 1}: {slice.TasksPerSecond:F0} tasks/s, server CPU {slice.ServerCpuUsPerTask:F0} µs per task (lease + complete)");
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await Task.WhenAll(loops);
            }
            catch (OperationCanceledException)
            {
            }
            catch (HttpRequestException)
            {
            }
        }
        if (Interlocked.Read(ref empty) > 0)
        {
            log($"  note: {empty} lease calls found the queue empty (the feeder fell behind)");
        }
        return results;
    }
}
