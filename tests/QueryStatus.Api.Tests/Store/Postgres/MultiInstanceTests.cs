using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using QueryStatus.Api.Tests.Infrastructure;
using Xunit.Abstractions;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// Two service processes on one PostgreSQL database, as behind a load balancer: eight workers lease from either
/// instance, clients submit on one and poll the other; mid-run one worker dies holding a lease and one instance is
/// killed (SIGKILL) and replaced. Every query must still end SUCCESS with exactly the rows its workers sent, in order,
/// and no license may ever have run more tasks at once than its limit.
/// </summary>
/// <remarks>
/// The processes run on the real clock, so nothing here asserts on time: the test waits for conditions (with a
/// generous overall timeout) and asserts on final states and on what the workers observed. Workers lease for 20 s, so
/// that a machine busy with other tests (task calls then take seconds) does not make leases expire faster than tasks
/// finish; the leases asked for once a worker is to die are the shortest the protocol allows (5 s), so that the dead
/// worker's task comes back quickly.
/// </remarks>
public sealed class MultiInstanceTests(ITestOutputHelper output)
{
    private const int WorkerCount = 8;
    private const int LeaseSeconds = 20;

    /// <summary>The shortest lease the protocol allows: what the worker that is to die asks for.</summary>
    private const int ShortLeaseSeconds = 5;
    private const int SubQueriesPerQuery = 6;
    private const int QueriesPerLicensePerWave = 2;

    /// <summary>Rows per task: batch 0 carries rows 0 and 1, batch 1 row 2 (sent first), the complete call row 3.</summary>
    private const int RowsPerTask = 4;

    private static readonly TimeSpan OverallPatience = TimeSpan.FromSeconds(150);

    [Fact]
    public async Task EveryQueryEndsWithExactlyItsRowsAndNoLicenseRunsPastItsLimitWhenAWorkerAndAnInstanceAreKilledMidRun()
    {
        // Two licenses on the default limit, one with a limit of its own: seven slots for eight workers.
        var licenses = new Dictionary<string, int>
        {
            [TestData.NewLicenseId()] = 2,
            [TestData.NewLicenseId()] = 2,
            [TestData.NewLicenseId()] = 3,
        };
        var ownLimit = licenses.Keys.Last();
        var settings = new Dictionary<string, string?>
        {
            ["Store:Provider"] = "Postgres",
            ["ConnectionStrings:QueryStatus"] = await PostgresServer.CreateDatabaseAsync(),
            ["Scheduler:DefaultMaxConcurrentTasks"] = "2",
            [$"Licenses:{ownLimit}:MaxConcurrentTasks"] = "3",
            // Every lost lease costs an attempt (the dead worker's, and any lease whose answer died with the instance).
            ["Scheduler:MaxAttempts"] = "10",
            ["Store:SweepInterval"] = "00:00:01",
            // Npgsql logs every command at Information: thousands of lines that only cost CPU here.
            ["Serilog:MinimumLevel:Override:Npgsql"] = "Warning",
        };

        var run = new Run(licenses, output);
        await using var cluster = new Cluster(settings, run);
        try
        {
            await run.ExecuteAsync(cluster);
        }
        catch
        {
            cluster.ReportLogs(output);
            throw;
        }
    }

    /// <summary>The service instances: two slots, each served by a process; a killed one is replaced in its slot.</summary>
    private sealed class Cluster(IReadOnlyDictionary<string, string?> settings, Run run) : IAsyncDisposable
    {
        private readonly ServiceProcess?[] _slots = new ServiceProcess?[2];
        private readonly ConcurrentQueue<ServiceProcess> _all = new();

        public async Task StartAsync(int slot, string name)
        {
            var instance = await ServiceProcess.StartAsync(name, settings);
            _all.Enqueue(instance);
            Volatile.Write(ref _slots[slot], instance);
        }

        public ServiceProcess Kill(int slot)
        {
            var victim = Volatile.Read(ref _slots[slot]) ?? throw new InvalidOperationException($"No instance in slot {slot}.");
            victim.Kill();
            return victim;
        }

        /// <summary>The live instance of <paramref name="slot"/>, else of the other slot; null when neither has one.</summary>
        private ServiceProcess? Pick(int slot) =>
            Volatile.Read(ref _slots[slot]) is { Killed: false } preferred ? preferred
            : Volatile.Read(ref _slots[1 - slot]) is { Killed: false } other ? other
            : null;

        /// <summary>
        /// Sends a call to the instance of <paramref name="slot"/>; when it cannot be reached (killed, or it cuts the
        /// connection), sends it again to the other one, as a client behind a load balancer would retry. Every such
        /// transport failure is recorded with the instance that caused it.
        /// </summary>
        public async Task<Answer> SendAsync(
            int slot, string bearer, string what, Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> call, CancellationToken cancellationToken)
        {
            var retried = false;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (Pick(slot) is not { } instance)
                {
                    await Task.Delay(50, cancellationToken);
                    continue;
                }
                try
                {
                    using var response = await call(instance.Client(bearer), cancellationToken);
                    var body = await response.Content.ReadAsStringAsync(cancellationToken);
                    return new Answer(response.StatusCode, body, instance.Name, retried);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpRequestException or TaskCanceledException or IOException)
                {
                    run.TransportFailure(instance, what, e);
                    retried = true;
                    slot = 1 - slot;
                    await Task.Delay(20, cancellationToken);
                }
            }
        }

        public void ReportLogs(ITestOutputHelper output)
        {
            var folder = Path.Combine(Path.GetTempPath(), $"qs-multi-instance-{Guid.NewGuid():N}");
            Directory.CreateDirectory(folder);
            foreach (var instance in _all)
            {
                var file = Path.Combine(folder, $"{instance.Name}.log");
                File.WriteAllLines(file, instance.Log);
                output.WriteLine($"Service log of {instance.Name}: {file}");
                output.WriteLine(instance.LogTail(30));
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var instance in _all)
            {
                await instance.DisposeAsync();
            }
        }
    }

    private sealed record Answer(HttpStatusCode Status, string Body, string Instance, bool Retried)
    {
        public JsonElement Json => Parse(Body);

        public override string ToString() => $"{(int)Status} from {Instance}{(Retried ? " (after a retry)" : "")}: {Body[..Math.Min(Body.Length, 300)]}";
    }

    private sealed record Query(string ScheduleId, string LicenseId, int Index, string Token)
    {
        public List<string> ExpectedRows() =>
            [.. Enumerable.Range(0, SubQueriesPerQuery).SelectMany(q => Enumerable.Range(0, RowsPerTask).Select(r => RowText(ScheduleId, q, r)))];
    }

    /// <summary>A row naming its query, sub-query and row number, as its worker writes it.</summary>
    private static string RowText(string scheduleId, int subQuery, int row) => $"{{\"s\":\"{scheduleId}\",\"q\":{subQuery},\"r\":{row}}}";

    /// <summary>The state of one run of the scenario: queries, workers, what they observed, what went wrong.</summary>
    private sealed class Run(IReadOnlyDictionary<string, int> limits, ITestOutputHelper output)
    {
        private readonly LeaseLedger _ledger = new();
        private readonly ConcurrentQueue<string> _unexpected = new();
        private readonly ConcurrentQueue<string> _transportFailures = new();
        private readonly ConcurrentQueue<string> _lostLeases = new();
        private readonly TaskCompletionSource _killAWorker = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _abort = new(OverallPatience);
        private readonly string _workerKey = TestKeys.Worker.Key;
        private int _completed;
        private int _victimChosen;
        private WorkerTask? _abandoned;

        public void TransportFailure(ServiceProcess instance, string what, Exception e)
        {
            var line = $"{what} to {instance.Name}{(instance.Killed ? " (killed)" : "")}: {e.GetType().Name}: {e.Message}";
            _transportFailures.Enqueue(line);
        }

        public async Task ExecuteAsync(Cluster cluster)
        {
            var started = Stopwatch.StartNew();
            // Both instances start together on the empty database: the schema is migrated once, under the advisory lock.
            await Task.WhenAll(cluster.StartAsync(0, "A"), cluster.StartAsync(1, "B"));

            using var stopWorkers = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
            var workers = Enumerable.Range(0, WorkerCount)
                .Select(i => Task.Run(() => WorkerAsync(cluster, i, stopWorkers.Token)))
                .ToList();

            var index = 0;
            List<Query> NewWave() =>
            [
                .. limits.Keys.SelectMany(license => Enumerable.Range(0, QueriesPerLicensePerWave).Select(_ =>
                    new Query(TestData.NewScheduleId("mi"), license, index++,
                        TestJwt.Create(license, now: DateTimeOffset.UtcNow, lifetime: TimeSpan.FromHours(1))))),
            ];
            var firstWave = NewWave();
            var clients = firstWave.Select(q => Task.Run(() => ClientAsync(cluster, q))).ToList();
            var firstWaveTasks = firstWave.Count * SubQueriesPerQuery;

            // A quarter of the way in, the next worker to get a task dies holding its lease.
            await UntilAsync(() => Volatile.Read(ref _completed) >= firstWaveTasks / 4, "a quarter of the first wave's tasks completed");
            _killAWorker.TrySetResult();
            await UntilAsync(() => Volatile.Read(ref _abandoned) is not null, "a worker died holding a lease");

            // Half way in, instance A is killed with whatever it is serving; the second wave is submitted at once (its
            // submits meant for A go to B), and A's slot gets a new process on the same database.
            await UntilAsync(() => Volatile.Read(ref _completed) >= firstWaveTasks / 2, "half of the first wave's tasks completed");
            var victim = cluster.Kill(0);
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(30));
            var secondWave = NewWave();
            clients.AddRange(secondWave.Select(q => Task.Run(() => ClientAsync(cluster, q))));
            await cluster.StartAsync(0, "A2");

            var abandoned = Volatile.Read(ref _abandoned)!;
            await UntilAsync(() => _ledger.LeasedAgain(abandoned.TaskId), "the dead worker's task leased again after its lease expired");

            (Query Query, string Status, List<string> Rows)[] outcomes = [];
            try
            {
                outcomes = await Task.WhenAll(clients).WaitAsync(_abort.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Not every query ended within {OverallPatience}. Problems so far:{Environment.NewLine}{string.Join(Environment.NewLine, _unexpected)}");
            }
            await stopWorkers.CancelAsync();
            await Task.WhenAll(workers);

            var concurrency = _ledger.MostAtOnce();
            output.WriteLine($"Finished in {started.Elapsed.TotalSeconds:F1} s; {Volatile.Read(ref _completed)} tasks completed.");
            output.WriteLine($"Abandoned task {abandoned.TaskId} ({abandoned.ScheduleId}), attempts seen: {string.Join(", ", _ledger.Attempts(abandoned.TaskId))}.");
            output.WriteLine($"Most leases held at once per license (limit): " +
                             string.Join("; ", limits.Select(l => $"{l.Key} {concurrency.GetValueOrDefault(l.Key)} ({l.Value})")));
            output.WriteLine($"Transport failures ({_transportFailures.Count}):");
            foreach (var line in _transportFailures)
            {
                output.WriteLine("  " + line);
            }
            output.WriteLine($"Leases lost (409 on a task call) ({_lostLeases.Count}):");
            foreach (var line in _lostLeases)
            {
                output.WriteLine("  " + line);
            }

            Assert.True(_unexpected.IsEmpty, "Answers outside the protocol:" + Environment.NewLine + string.Join(Environment.NewLine, _unexpected));
            foreach (var (query, status, rows) in outcomes)
            {
                Assert.True(status == "SUCCESS", $"{query.ScheduleId} ended {status}.");
                Assert.Equal(query.ExpectedRows(), rows);
            }
            Assert.All(limits, limit => Assert.True(concurrency.GetValueOrDefault(limit.Key) <= limit.Value,
                $"License {limit.Key} had {concurrency[limit.Key]} tasks leased at once; its limit is {limit.Value}."));
            Assert.All(_transportFailures, failure => Assert.Contains("(killed)", failure, StringComparison.Ordinal));
        }

        /// <summary>Submits on the query's instance, polls the other until the run ends, then reads its rows there.</summary>
        private async Task<(Query Query, string Status, List<string> Rows)> ClientAsync(Cluster cluster, Query query)
        {
            var token = _abort.Token;
            var submitSlot = query.Index % 2;
            var pollSlot = 1 - submitSlot;
            var body = SubmitBody(query.ScheduleId, Enumerable.Range(0, SubQueriesPerQuery).Select(q => $"{{\"q\":{q}}}"));
            var submitted = await cluster.SendAsync(submitSlot, query.Token, $"submit {query.ScheduleId}",
                (c, ct) => c.PostAsync(SubmitPath, Json(body), ct), token);
            // A submit cut off with its instance may have been committed: the retry then finds the run (409).
            if (submitted.Status != HttpStatusCode.Accepted && !(submitted.Retried && submitted.Status == HttpStatusCode.Conflict))
            {
                Unexpected($"submit {query.ScheduleId}", submitted);
            }

            while (true)
            {
                var status = await cluster.SendAsync(pollSlot, query.Token, $"status {query.ScheduleId}",
                    (c, ct) => c.GetAsync(HttpAssertions.StatusUrl(query.ScheduleId, "offset_end=1000"), ct), token);
                if (status.Status != HttpStatusCode.OK)
                {
                    Unexpected($"status {query.ScheduleId}", status);
                }
                else if (status.Json is var page && page.StatusCode() is "SUCCESS" or "FAILURE" or "STOPPED")
                {
                    Assert.Null(page.NextOffsetStart());
                    return (query, page.StatusCode(), page.RawRows());
                }
                // The pace of a polling client, not a wait for anything: the loop ends on the answer.
                await Task.Delay(250, token);
            }
        }

        /// <summary>
        /// A worker: leases one task at a time from either instance (alternating), sends its rows in two batches (the
        /// second first) and completes it with its last row. One worker, the first to get a (short) lease asked for
        /// after the signal, dies holding it, its first batch sent.
        /// </summary>
        private async Task WorkerAsync(Cluster cluster, int index, CancellationToken stop)
        {
            var workerId = $"worker-{index}";
            var random = new Random(index);
            try
            {
                for (var call = index; !stop.IsCancellationRequested; call++)
                {
                    var slot = call % 2;
                    // Once a worker is to die, leases are short until one is taken by the worker that dies.
                    var leaseSeconds = _killAWorker.Task.IsCompleted && Volatile.Read(ref _victimChosen) == 0 ? ShortLeaseSeconds : LeaseSeconds;
                    var lease = await cluster.SendAsync(slot, _workerKey, $"{workerId} lease", (c, ct) => c.PostAsync(
                        WorkerClient.Prefix + "/lease",
                        Json($"{{\"worker_id\":\"{workerId}\",\"max_tasks\":1,\"lease_seconds\":{leaseSeconds},\"wait_seconds\":1}}"), ct), stop);
                    var answeredAt = Stopwatch.GetTimestamp();
                    if (lease.Status != HttpStatusCode.OK)
                    {
                        Unexpected($"{workerId} lease", lease);
                        await Task.Delay(100, stop);
                        continue;
                    }
                    var tasks = lease.Json.GetProperty("tasks").EnumerateArray().Select(WorkerTask.From).ToList();
                    if (tasks.Count == 0)
                    {
                        continue;
                    }
                    var task = Assert.Single(tasks);
                    var hold = _ledger.Taken(task, answeredAt);

                    if (leaseSeconds == ShortLeaseSeconds && Interlocked.Exchange(ref _victimChosen, 1) == 0)
                    {
                        // This worker dies: its first batch staged, then nothing more. The lease stays taken (the ledger
                        // counts it) until the task is leased again.
                        await SendTaskCallAsync(cluster, slot, task, "rows", RowsBody(task, 0), stop);
                        _ledger.Abandon(hold);
                        Volatile.Write(ref _abandoned, task);
                        return;
                    }

                    await WorkAsync(cluster, slot, task, hold, random, stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The run is over (or aborted).
            }
            catch (Exception e)
            {
                _unexpected.Enqueue($"{workerId} failed: {e}");
                await _abort.CancelAsync();
            }
        }

        private async Task WorkAsync(Cluster cluster, int slot, WorkerTask task, LeaseLedger.Hold hold, Random random, CancellationToken stop)
        {
            (string Verb, string Body)[] calls =
            [
                ("rows", RowsBody(task, 1)),
                ("rows", RowsBody(task, 0)),
                ("complete", $"{{\"lease_token\":\"{task.LeaseToken}\",\"rows\":[{RowText(task.ScheduleId, SubQuery(task), 3)}]}}"),
            ];
            var provenAt = hold.Start;
            foreach (var (verb, body) in calls)
            {
                // The data source's time (a pause in the worker, not a wait for anything the test checks).
                await Task.Delay(random.Next(10, 40), stop);
                var sentAt = Stopwatch.GetTimestamp();
                var answer = await SendTaskCallAsync(cluster, slot, task, verb, body, stop);
                if (answer.Status == HttpStatusCode.OK)
                {
                    // The call reached the service while the lease was held: it was held at least until it was sent.
                    provenAt = sentAt;
                    continue;
                }
                _ledger.Ended(hold, provenAt);
                if (answer.Status == HttpStatusCode.Conflict)
                {
                    // The lease expired (its calls took longer than the lease: a dying instance, a busy machine): the
                    // task is leased again.
                    _lostLeases.Enqueue($"{task.TaskId} attempt {task.Attempt} {verb}: {answer}");
                }
                else
                {
                    Unexpected($"{task.TaskId} {verb}", answer);
                }
                return;
            }
            _ledger.Ended(hold, provenAt);
            Interlocked.Increment(ref _completed);
        }

        private Task<Answer> SendTaskCallAsync(Cluster cluster, int slot, WorkerTask task, string verb, string body, CancellationToken stop) =>
            cluster.SendAsync(slot, _workerKey, $"{task.TaskId} {verb}",
                (c, ct) => c.PostAsync($"{WorkerClient.Prefix}/{task.TaskId}/{verb}", Json(body), ct), stop);

        private static int SubQuery(WorkerTask task) => task.Payload.GetProperty("q").GetInt32();

        private static string RowsBody(WorkerTask task, int batch)
        {
            var q = SubQuery(task);
            var rows = batch == 0
                ? $"{RowText(task.ScheduleId, q, 0)},{RowText(task.ScheduleId, q, 1)}"
                : RowText(task.ScheduleId, q, 2);
            return $"{{\"lease_token\":\"{task.LeaseToken}\",\"batch\":{batch},\"rows\":[{rows}]}}";
        }

        private void Unexpected(string what, Answer answer) => _unexpected.Enqueue($"{what}: {answer}");

        /// <summary>Waits until <paramref name="condition"/> holds, checking every few milliseconds; fails on the overall timeout.</summary>
        private async Task UntilAsync(Func<bool> condition, string what)
        {
            while (!condition())
            {
                if (_abort.IsCancellationRequested)
                {
                    Assert.Fail($"Gave up waiting: {what}. Problems so far:{Environment.NewLine}{string.Join(Environment.NewLine, _unexpected)}");
                }
                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Which leases the workers held when, by license, to find the most tasks a license ever ran at once. A lease counts
    /// from its answer to the sending of the last call that the service accepted under it (for a completed task, the
    /// complete call): both ends inside the time the service held the lease, so the count never exceeds what the service
    /// really had running, and a count over the limit is a real breach. A dead worker's lease counts until its task is
    /// leased again: an expired task goes back to the front of its license's queue, so the license cannot have started
    /// any other task in between.
    /// </summary>
    private sealed class LeaseLedger
    {
        private readonly Lock _lock = new();
        private readonly List<Hold> _holds = [];
        private readonly Dictionary<string, Hold> _abandoned = new(StringComparer.Ordinal);

        public sealed class Hold(WorkerTask task, long start)
        {
            public WorkerTask Task { get; } = task;

            public long Start { get; } = start;

            public long? End { get; set; }
        }

        public Hold Taken(WorkerTask task, long answeredAt)
        {
            lock (_lock)
            {
                if (_abandoned.Remove(task.TaskId, out var dead))
                {
                    dead.End = answeredAt;
                }
                var hold = new Hold(task, answeredAt);
                _holds.Add(hold);
                return hold;
            }
        }

        public void Ended(Hold hold, long provenAt)
        {
            lock (_lock)
            {
                hold.End = provenAt;
            }
        }

        public void Abandon(Hold hold)
        {
            lock (_lock)
            {
                // Leased again already (the dead worker's last call took longer than the lease): that ends it.
                if (_holds.Where(h => h.Task.TaskId == hold.Task.TaskId && h.Start > hold.Start).Select(h => (long?)h.Start).Min() is { } next)
                {
                    hold.End = next;
                    return;
                }
                _abandoned[hold.Task.TaskId] = hold;
            }
        }

        public bool LeasedAgain(string taskId)
        {
            lock (_lock)
            {
                return _holds.Count(h => h.Task.TaskId == taskId) > 1 && !_abandoned.ContainsKey(taskId);
            }
        }

        public IReadOnlyList<int> Attempts(string taskId)
        {
            lock (_lock)
            {
                return [.. _holds.Where(h => h.Task.TaskId == taskId).Select(h => h.Task.Attempt)];
            }
        }

        /// <summary>
        /// The most holds of each license that overlapped; at equal instants an end comes before a start. A hold never
        /// ended (its worker stopped with the run) counts for no time.
        /// </summary>
        public Dictionary<string, int> MostAtOnce()
        {
            lock (_lock)
            {
                return _holds
                    .GroupBy(h => h.Task.LicenseId)
                    .ToDictionary(g => g.Key, g =>
                    {
                        var events = g.SelectMany(h => new[] { (At: h.Start, Change: +1), (At: h.End ?? h.Start, Change: -1) })
                            .OrderBy(e => e.At).ThenBy(e => e.Change);
                        int now = 0, most = 0;
                        foreach (var (_, change) in events)
                        {
                            now += change;
                            most = Math.Max(most, now);
                        }
                        return most;
                    });
            }
        }
    }
}
