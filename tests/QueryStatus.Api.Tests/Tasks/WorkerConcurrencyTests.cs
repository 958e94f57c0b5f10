using System.Collections.Concurrent;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>Many workers at once, with a reader polling status the whole time: the scheduler's invariants hold throughout.</summary>
public class WorkerConcurrencyTests(string provider = StoreOptions.InMemoryProvider)
{
    private const int RunCount = 4;
    private const int SubQueriesPerRun = 50;
    private const int WorkerCount = 8;

    private static string Payload(int run, int q) => $"{{\"run\":{run},\"q\":{q}}}";

    private static string ResultRow(int run, int q, int r) => $"{{\"run\":{run},\"q\":{q},\"r\":{r}}}";

    [Fact]
    public async Task ParallelWorkersAndAStatusReaderSeeConsistentRunsThatEndWithEveryRowOnceInOrder()
    {
        var licenses = Enumerable.Range(0, RunCount).Select(_ => TestData.NewLicenseId()).ToArray();
        int[] limits = [2, 6, 6, 6];
        using var factory = NewFactory(
            provider,
            ($"Licenses:{licenses[0]}:MaxConcurrentTasks", "2"),
            ("Scheduler:DefaultMaxConcurrentTasks", "6"));
        var clients = licenses.Select(l => factory.CreateClientWithJwt(l)).ToArray(); // disposed with the factory
        var runs = new string[RunCount];
        for (var run = 0; run < RunCount; run++)
        {
            runs[run] = await clients[run].SubmitAsync([.. Enumerable.Range(0, SubQueriesPerRun).Select(q => Payload(run, q))]);
        }

        const int total = RunCount * SubQueriesPerRun;
        var completed = 0;
        var held = new int[RunCount];                      // tasks the workers hold, per license
        var leasedNow = new ConcurrentDictionary<string, string>(); // task id -> worker, while leased
        var completions = new ConcurrentDictionary<(int Run, int Q), int>();
        var problems = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<Exception>();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        async Task WorkAsync(int id)
        {
            using var worker = factory.CreateWorker($"worker-{id}");
            while (Volatile.Read(ref completed) < total && !stop.IsCancellationRequested)
            {
                var tasks = await worker.LeaseAsync(maxTasks: 5, leaseSeconds: 600);
                if (tasks.Count == 0)
                {
                    await Task.Yield();
                    continue;
                }
                foreach (var task in tasks)
                {
                    var run = Array.IndexOf(licenses, task.LicenseId);
                    if (Interlocked.Increment(ref held[run]) > limits[run])
                    {
                        problems.Enqueue($"license {run} has more than {limits[run]} tasks running");
                    }
                    if (!leasedNow.TryAdd(task.TaskId, worker.WorkerId))
                    {
                        problems.Enqueue($"task {task.TaskId} was leased to {worker.WorkerId} while {leasedNow[task.TaskId]} held it");
                    }
                }
                foreach (var task in tasks)
                {
                    var (run, q) = (task.Payload.GetProperty("run").GetInt32(), task.Payload.GetProperty("q").GetInt32());
                    Assert.Equal(runs[run], task.ScheduleId);
                    if (q % 10 == 3 && task.Attempt == 1)
                    {
                        // Some tasks fail once after staging a row: the retry must not carry that row.
                        await worker.RowsOkAsync(task, 0, ResultRow(run, q, -1));
                        leasedNow.TryRemove(task.TaskId, out _);
                        Interlocked.Decrement(ref held[run]);
                        await worker.FailOkAsync(task, "FLAKY", "Try again.", retryable: true);
                        continue;
                    }
                    await worker.RowsOkAsync(task, 0, ResultRow(run, q, 0));
                    await worker.RowsOkAsync(task, 1, ResultRow(run, q, 1));
                    Assert.True((await worker.RowsOkAsync(task, 0, ResultRow(run, q, 0))).GetProperty("duplicate").GetBoolean());
                    // Count the task as released before the service does, so our count never runs ahead of its own.
                    leasedNow.TryRemove(task.TaskId, out _);
                    Interlocked.Decrement(ref held[run]);
                    await worker.CompleteOkAsync(task, [ResultRow(run, q, 2)]);
                    completions.AddOrUpdate((run, q), 1, (_, n) => n + 1);
                    Interlocked.Increment(ref completed);
                }
            }
        }

        var workersDone = false;
        async Task ReadAsync()
        {
            var lastReady = new int[RunCount];
            do
            {
                for (var run = 0; run < RunCount; run++)
                {
                    var status = await clients[run].StatusAsync(runs[run]);
                    var code = status.StatusCode();
                    var (ready, queries) = status.Progress();
                    var (scheduled, running) = status.Workflow();
                    var seen = $"run {run}: {code}, ready {ready}/{queries}, scheduled {scheduled}, running {running}";
                    if (code is not ("QUEUED" or "RUNNING" or "SUCCESS")
                        || queries != SubQueriesPerRun
                        || ready < lastReady[run] || ready > queries
                        || running > limits[run]
                        || scheduled + running + ready != queries
                        || (code == "SUCCESS") != (ready == queries))
                    {
                        problems.Enqueue(seen);
                    }
                    lastReady[run] = ready;
                }
                await Task.Yield();
            }
            while (!Volatile.Read(ref workersDone) && !stop.IsCancellationRequested);
        }

        async Task GuardAsync(Func<Task> body)
        {
            try
            {
                await body();
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
                await stop.CancelAsync(); // one failure ends the others' loops too
            }
        }

        var reader = Task.Run(() => GuardAsync(ReadAsync));
        await Task.WhenAll(Enumerable.Range(0, WorkerCount).Select(id => Task.Run(() => GuardAsync(() => WorkAsync(id)))));
        Volatile.Write(ref workersDone, true);
        await reader;

        Assert.Empty(failures);
        Assert.False(stop.IsCancellationRequested, "The workers did not finish in time.");
        Assert.Empty(problems);
        Assert.Equal(total, completions.Count);
        Assert.All(completions, c => Assert.Equal(1, c.Value));
        for (var run = 0; run < RunCount; run++)
        {
            var status = await clients[run].StatusAsync(runs[run]);
            Assert.Equal("SUCCESS", status.StatusCode());
            Assert.Equal((SubQueriesPerRun, SubQueriesPerRun), status.Progress());
            Assert.Equal((0, 0), status.Workflow());
            var expected = Enumerable.Range(0, SubQueriesPerRun).SelectMany(q => Enumerable.Range(0, 3).Select(r => ResultRow(run, q, r)));
            Assert.Equal(expected, status.RawRows());
        }
    }
}

public sealed class WorkerConcurrencyTestsOnPostgres() : WorkerConcurrencyTests(StoreOptions.PostgresProvider);
