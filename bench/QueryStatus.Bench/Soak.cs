using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace QueryStatus.Bench;

/// <summary>
/// <c>bench/run.sh --soak MINUTES</c>: sustained traffic of every kind against the Release build, with the server's
/// memory sampled throughout, to show that what expires is given back. Clients submit queries, poll them, stop some,
/// read every finished result page by page and compare each row with what the workers sent, and poll each one again
/// once it has expired (404 expected); workers lease, send rows in numbered batches (some out of order, some
/// repeated), heartbeat, complete (some completions repeated) and abandon some leases. RSS is read from /proc every
/// 10 s, the runtime's and the store's gauges by dotnet-counters, and the managed heap after a forced full GC by
/// dotnet-gcdump (at minute 3 and at the end).
/// </summary>
public sealed class Soak(Options options, List<Server> servers, string workDir)
{
    private const int Clients = 6;
    private const int QueriesInFlightPerClient = 6;
    private const int Workers = 6;
    private static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReferenceMinute = TimeSpan.FromMinutes(3);

    private readonly StringBuilder _log = new();
    private readonly string[] _clientKeys = [.. Enumerable.Range(0, Clients).Select(_ => Key())];
    private readonly string[] _workerKeys = [.. Enumerable.Range(0, Workers).Select(_ => Key())];
    private readonly Counts _counts = new();
    private readonly List<Sample> _samples = [];
    private HttpClient _http = null!;
    private Server _server = null!;

    private static string Key() => "soak_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private void Log(string line)
    {
        Console.WriteLine(line);
        _log.AppendLine(line);
    }

    public async Task<Report> RunAsync(CancellationToken cancellationToken)
    {
        var root = Bench.RepoRoot();
        var apiDll = Path.Combine(root, "src/QueryStatus.Api/bin/Release/net10.0/QueryStatus.Api.dll");
        if (!File.Exists(apiDll))
        {
            throw new BenchException($"{apiDll} is missing: build Release first (bench/run.sh does).");
        }
        var tools = Path.Combine(root, "bench/.tools");
        var counters = Path.Combine(tools, "dotnet-counters");
        var gcdump = Path.Combine(tools, "dotnet-gcdump");
        foreach (var tool in new[] { counters, gcdump })
        {
            if (!File.Exists(tool))
            {
                throw new BenchException($"{tool} is missing: bench/run.sh installs it.");
            }
        }

        var load = TimeSpan.FromMinutes(options.SoakMinutes);
        var started = DateTimeOffset.UtcNow;
        Log($"QueryStatus soak, {started:yyyy-MM-dd HH:mm} UTC; {Bench.Machine()}");
        Log($"load: {load.TotalMinutes:F0} min, {Clients} clients x {QueriesInFlightPerClient} queries in flight, {Workers} workers " +
            $"(one key each), Store:Retention {options.SoakRetention}, Store:SweepInterval {options.SoakSweep}");

        // --store postgres: the same soak with the service on a throwaway PostgreSQL cluster (its memory is the service's;
        // the store's gauges come from the database, read after each sweep).
        PostgresCluster? cluster = null;
        Dictionary<string, string> store = [];
        if (options.Postgres)
        {
            cluster = await PostgresCluster.StartAsync(options.PostgresSettings, Log);
            cluster.KeepLogAs = options.PostgresLog;
            store["Store__Provider"] = "Postgres";
            store["ConnectionStrings__QueryStatus"] = await cluster.CreateDatabaseAsync("querystatus_soak")
                + (options.PostgresConnectionOptions is { } extra ? ";" + extra : "");
        }
        try
        {
            return await SoakAsync(apiDll, counters, gcdump, load, started, store, cancellationToken);
        }
        finally
        {
            if (cluster is not null)
            {
                // The service first, so that it does not see its database go away while it runs.
                _server?.Dispose();
                await cluster.DisposeAsync();
            }
        }
    }

    private async Task<Report> SoakAsync(
        string apiDll, string counters, string gcdump, TimeSpan load, DateTimeOffset started, Dictionary<string, string> store,
        CancellationToken cancellationToken)
    {
        _server = await StartAsync(apiDll, store);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        _http = new HttpClient(handler) { BaseAddress = new Uri(_server.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };

        var countersCsv = Path.Combine(workDir, "counters.csv");
        using var countersProcess = StartCounters(counters, countersCsv);

        // Everything below is bounded: the load by its own token, the whole run by a hard deadline.
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        hardStop.CancelAfter(load + options.SoakRetention + (3 * options.SoakSweep) + TimeSpan.FromMinutes(5));
        using var loadStop = CancellationTokenSource.CreateLinkedTokenSource(hardStop.Token);
        loadStop.CancelAfter(load);

        // Workers go on after the load until every client has seen its last query finish: a query left unfinished
        // would (rightly) stay in the store, and the end of the run checks that the store empties.
        using var workersStop = CancellationTokenSource.CreateLinkedTokenSource(hardStop.Token);

        var clock = Stopwatch.StartNew();
        var expired = new ExpiryChecks();
        var loops = new List<Task>();
        var workers = new List<Task>();
        for (var c = 0; c < Clients; c++)
        {
            for (var q = 0; q < QueriesInFlightPerClient; q++)
            {
                var client = c;
                var slot = q;
                loops.Add(Task.Run(() => ClientLoopAsync(client, slot, expired, loadStop.Token, hardStop.Token)));
            }
        }
        for (var w = 0; w < Workers; w++)
        {
            var worker = w;
            workers.Add(Task.Run(() => WorkerLoopAsync(worker, workersStop.Token, hardStop.Token)));
        }
        var checker = Task.Run(() => ExpiryLoopAsync(expired, hardStop.Token));

        Log("");
        Log($"{"t",6} {"RSS MiB",8} {"queries",8} {"rows read",11} {"polls",9} {"mismatch",8} {"5xx",4}");
        double? heapAtReference = null;
        var nextSample = SampleEvery;
        while (clock.Elapsed < load && !hardStop.IsCancellationRequested)
        {
            await Task.Delay(nextSample - clock.Elapsed > TimeSpan.Zero ? nextSample - clock.Elapsed : TimeSpan.Zero, hardStop.Token);
            nextSample += SampleEvery;
            Record(clock.Elapsed);
            var s = _samples[^1];
            Log($"{s.At.TotalSeconds,5:F0}s {s.Rss / 1048576.0,8:F0} {s.QueriesDone,8:N0} {s.RowsRead,11:N0} {s.Polls,9:N0} {s.Mismatches,8} {s.ServerErrors,4}");
            if (heapAtReference is null && clock.Elapsed >= ReferenceMinute)
            {
                heapAtReference = await HeapAfterFullGcAsync(gcdump, "minute-3", hardStop.Token);
                Log($"  managed heap after a forced full GC at {clock.Elapsed.TotalMinutes:F1} min: {heapAtReference / 1048576.0:F1} MiB");
            }
        }
        var loadEnded = clock.Elapsed;

        Log("");
        Log("load over: no new queries; the ones in flight finish (60 s at most) ...");
        try
        {
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(60), hardStop.Token);
        }
        catch (TimeoutException)
        {
            Log("  some queries were still unfinished after 60 s; their clients are cut off");
        }
        await workersStop.CancelAsync();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30), hardStop.Token);
        Log($"  all finished {clock.Elapsed.TotalSeconds - loadEnded.TotalSeconds:F0} s after the load");

        // Wait until everything finished has expired and two sweeps have run, then look at the gauges.
        var quiet = options.SoakRetention + (2 * options.SoakSweep) + TimeSpan.FromSeconds(15);
        Log($"waiting {quiet.TotalSeconds:F0} s (retention + 2 sweeps + 15 s), sampling every 10 s ...");
        var quietUntil = clock.Elapsed + quiet;
        while (clock.Elapsed < quietUntil && !hardStop.IsCancellationRequested)
        {
            await Task.Delay(SampleEvery, hardStop.Token);
            Record(clock.Elapsed);
        }
        await expired.DrainAsync(this, hardStop.Token);
        await hardStop.CancelAsync();
        try
        {
            await checker;
        }
        catch (OperationCanceledException)
        {
        }

        var heapAtEnd = await HeapAfterFullGcAsync(gcdump, "end", CancellationToken.None);
        Record(clock.Elapsed);
        StopCounters(countersProcess);
        var gauges = CountersCsv.Read(countersCsv, started);
        _server.EnsureRunning();
        return BuildReport(started, load, loadEnded, heapAtReference, heapAtEnd, gauges);
    }

    // ---- the server and its tools ----------------------------------------------------------------

    private async Task<Server> StartAsync(string apiDll, Dictionary<string, string> store)
    {
        var env = new Dictionary<string, string>(store)
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Store__Retention"] = options.SoakRetention.ToString("c", CultureInfo.InvariantCulture),
            ["Store__SweepInterval"] = options.SoakSweep.ToString("c", CultureInfo.InvariantCulture),
            // Clients here poll every 100-300 ms, far more than the 600 a minute a license gets by default.
            ["RateLimiting__PermitLimit"] = "100000000",
        };
        var index = 0;
        for (var c = 0; c < Clients; c++, index++)
        {
            env[$"Auth__ApiKeys__{index}__KeyHash"] = Bench.Sha256(_clientKeys[c]);
            env[$"Auth__ApiKeys__{index}__LicenseId"] = $"lic_soak_{c}";
            env[$"Auth__ApiKeys__{index}__Name"] = $"soak-client-{c}";
        }
        // Each worker has its own key, so each has the default worker budget (RateLimiting:Workers) to itself.
        for (var w = 0; w < Workers; w++, index++)
        {
            env[$"Auth__ApiKeys__{index}__KeyHash"] = Bench.Sha256(_workerKeys[w]);
            env[$"Auth__ApiKeys__{index}__Name"] = $"soak-worker-{w}";
            env[$"Auth__ApiKeys__{index}__Scopes__0"] = "worker";
        }
        foreach (var (name, value) in options.QueryStatusSettings)
        {
            env[name] = value;
        }
        var server = await Server.StartAsync("QueryStatus", apiDll, env, [], workDir);
        servers.Add(server);
        Log($"QueryStatus pid {server.Pid} on {server.BaseUrl} (Release, Production, {(options.Postgres ? "PostgreSQL store" : "in-memory store")})" +
            (options.QueryStatusSettings.Count == 0 ? "" : $"; extra settings: {string.Join(", ", options.QueryStatusSettings.Select(s => $"{s.Key}={s.Value}"))}"));
        return server;
    }

    private Process StartCounters(string tool, string csv)
    {
        var info = new ProcessStartInfo(tool)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
                 {
                     "collect", "--process-id", _server.Pid.ToString(CultureInfo.InvariantCulture),
                     "--counters", "System.Runtime,QueryStatus.Api", "--refresh-interval", "10", "--format", "csv", "--output", csv,
                 })
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new BenchException("could not start dotnet-counters");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrWhiteSpace(e.Data))
            {
                Console.Error.WriteLine("dotnet-counters: " + e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void StopCounters(Process process)
    {
        try
        {
            // dotnet-counters ends its session on 'q'; the file is complete up to the last refresh either way.
            process.StandardInput.Write('q');
            process.StandardInput.Flush();
            if (!process.WaitForExit(10_000))
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
        }
    }

    /// <summary>Heap after a full blocking GC: dotnet-gcdump induces one, walks what survived and reports its size.</summary>
    private async Task<double> HeapAfterFullGcAsync(string tool, string name, CancellationToken cancellationToken)
    {
        var file = Path.Combine(workDir, name + ".gcdump");
        await RunToolAsync(tool, ["collect", "--process-id", _server.Pid.ToString(CultureInfo.InvariantCulture), "--output", file], cancellationToken);
        var report = await RunToolAsync(tool, ["report", file], cancellationToken);
        var line = report.Split('\n').FirstOrDefault(l => l.Contains("GC Heap bytes", StringComparison.Ordinal))
            ?? throw new BenchException("dotnet-gcdump report printed no 'GC Heap bytes' line:\n" + report);
        var bytes = long.Parse(line.Trim().Split(' ')[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        if (options.Markdown is { } markdown)
        {
            // Kept beside the report: the type table of each dump is how a leak is found.
            File.Copy(file, Path.ChangeExtension(markdown, "." + name + ".gcdump"), overwrite: true);
        }
        return bytes;
    }

    private static async Task<string> RunToolAsync(string tool, string[] arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new BenchException($"could not start {tool}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new BenchException($"{Path.GetFileName(tool)} {arguments[0]} exited {process.ExitCode}: {await error}");
        }
        return await output;
    }

    private void Record(TimeSpan at)
    {
        lock (_samples)
        {
            _samples.Add(new Sample(at, _server.ResidentBytes(), Interlocked.Read(ref _counts.QueriesDone), Interlocked.Read(ref _counts.RowsRead),
                Interlocked.Read(ref _counts.Polls), Interlocked.Read(ref _counts.Mismatches), Interlocked.Read(ref _counts.ServerErrors)));
        }
    }

    // ---- traffic -------------------------------------------------------------------------------

    /// <summary>One query slot of a client: submit, poll, maybe stop, read and compare, again and again.</summary>
    private async Task ClientLoopAsync(int client, int slot, ExpiryChecks expired, CancellationToken load, CancellationToken hard)
    {
        var random = new Random(HashCode.Combine(client, slot, Environment.TickCount));
        var key = _clientKeys[client];
        var query = 0;
        while (!load.IsCancellationRequested)
        {
            try
            {
                var name = $"c{client}s{slot}q{query++}";
                var parts = Enumerable.Range(0, random.Next(2, 7)).Select(p => new Part(name, p, random.Next(0, 121), random.Next())).ToArray();
                var submitted = await CallAsync(HttpMethod.Post, "/enterprise/v2/query/submit", key,
                    "{\"subqueries\":[" + string.Join(',', parts.Select(p => p.Payload)) + "]}", hard);
                if (submitted.Status != HttpStatusCode.Accepted)
                {
                    Unexpected("submit", submitted);
                    continue;
                }
                Interlocked.Increment(ref _counts.Submitted);
                var scheduleId = submitted.Json!.Value.GetProperty("meta").GetProperty("schedule_id").GetString()!;
                var stop = random.NextDouble() < 0.05;

                string? status;
                while (true)
                {
                    await Task.Delay(random.Next(100, 301), hard);
                    var poll = await CallAsync(HttpMethod.Get, $"/enterprise/v2/query/status?schedule_id={scheduleId}&offset_end=0", key, null, hard);
                    Interlocked.Increment(ref _counts.Polls);
                    if (poll.Status != HttpStatusCode.OK)
                    {
                        Unexpected("poll", poll);
                        status = null;
                        break;
                    }
                    status = poll.Json!.Value.GetProperty("meta").GetProperty("status_code").GetString();
                    if (status is "SUCCESS" or "FAILURE" or "STOPPED")
                    {
                        break;
                    }
                    if (stop)
                    {
                        stop = false;
                        var stopped = await CallAsync(HttpMethod.Post, $"/enterprise/v2/query/stop?schedule_id={scheduleId}", key, null, hard);
                        if (stopped.Status is not (HttpStatusCode.OK or HttpStatusCode.Conflict))
                        {
                            Unexpected("stop", stopped);
                        }
                    }
                }

                switch (status)
                {
                    case "SUCCESS":
                        await ReadAndCompareAsync(key, scheduleId, parts, random, hard);
                        Interlocked.Increment(ref _counts.Succeeded);
                        break;
                    case "STOPPED":
                        Interlocked.Increment(ref _counts.Stopped);
                        break;
                    case "FAILURE":
                        Interlocked.Increment(ref _counts.Failed);
                        break;
                }
                if (status is not null)
                {
                    Interlocked.Increment(ref _counts.QueriesDone);
                    expired.Add(key, scheduleId, DateTime.UtcNow + options.SoakRetention + (2 * options.SoakSweep) + TimeSpan.FromSeconds(5));
                }
            }
            catch (OperationCanceledException) when (hard.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException e)
            {
                Interlocked.Increment(ref _counts.Dropped);
                Console.Error.WriteLine($"client {client}: {e.Message}");
            }
        }
    }

    private async Task ReadAndCompareAsync(string key, string scheduleId, Part[] parts, Random random, CancellationToken cancellationToken)
    {
        var expected = parts.SelectMany(p => Enumerable.Range(0, p.Rows).Select(p.Row)).ToList();
        var next = 0L;
        while (true)
        {
            var size = random.Next(1, 501);
            var page = await CallAsync(HttpMethod.Get,
                $"/enterprise/v2/query/status?schedule_id={scheduleId}&offset_start={next}&offset_end={next + size}", key, null, cancellationToken);
            if (page.Status != HttpStatusCode.OK)
            {
                Unexpected("page", page);
                return;
            }
            var root = page.Json!.Value;
            var paging = root.GetProperty("meta").GetProperty("paging");
            if (paging.GetProperty("total_rows").GetInt64() != expected.Count)
            {
                Mismatch($"{scheduleId}: total_rows {paging.GetProperty("total_rows").GetInt64()}, expected {expected.Count}");
                return;
            }
            var index = next;
            foreach (var row in root.GetProperty("data").EnumerateArray())
            {
                if (index >= expected.Count || row.GetRawText() != expected[(int)index])
                {
                    Mismatch($"{scheduleId} row {index}: {row.GetRawText()}");
                    return;
                }
                index++;
            }
            Interlocked.Add(ref _counts.RowsRead, index - next);
            if (paging.GetProperty("next_offset_start").ValueKind == JsonValueKind.Null)
            {
                if (index != expected.Count)
                {
                    Mismatch($"{scheduleId}: the pages ended at row {index} of {expected.Count}");
                }
                return;
            }
            next = paging.GetProperty("next_offset_start").GetInt64();
        }
    }

    private async Task WorkerLoopAsync(int worker, CancellationToken stop, CancellationToken hard)
    {
        var random = new Random(HashCode.Combine(worker, Environment.TickCount));
        var key = _workerKeys[worker];
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var leased = await CallAsync(HttpMethod.Post, "/enterprise/v2/tasks/lease", key,
                    $"{{\"worker_id\":\"soak-{worker}\",\"max_tasks\":{random.Next(1, 4)},\"lease_seconds\":10,\"wait_seconds\":1}}", hard);
                if (leased.Status != HttpStatusCode.OK)
                {
                    Unexpected("lease", leased);
                    continue;
                }
                foreach (var task in leased.Json!.Value.GetProperty("tasks").EnumerateArray())
                {
                    await RunTaskAsync(key, task, random, hard);
                }
            }
            catch (OperationCanceledException) when (hard.IsCancellationRequested || stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException e)
            {
                Interlocked.Increment(ref _counts.Dropped);
                Console.Error.WriteLine($"worker {worker}: {e.Message}");
            }
        }
    }

    private async Task RunTaskAsync(string key, JsonElement task, Random random, CancellationToken cancellationToken)
    {
        var taskId = task.GetProperty("task_id").GetString()!;
        var token = task.GetProperty("lease_token").GetString()!;
        var part = Part.From(task.GetProperty("payload"));
        // Some first attempts are forgotten: the lease runs out and another worker gets the task (never the last attempt).
        if (task.GetProperty("attempt").GetInt32() == 1 && random.NextDouble() < 0.02)
        {
            Interlocked.Increment(ref _counts.Abandoned);
            return;
        }

        var rows = Enumerable.Range(0, part.Rows).Select(part.Row).ToList();
        var inComplete = rows.Count == 0 ? 0 : random.Next(0, Math.Min(4, rows.Count + 1));
        var batches = new List<(int Batch, List<string> Rows)>();
        for (int start = 0, batch = 0; start < rows.Count - inComplete; batch++)
        {
            var count = Math.Min(random.Next(1, 41), rows.Count - inComplete - start);
            batches.Add((batch, rows.GetRange(start, count)));
            start += count;
        }
        // Batch numbers order the rows, whatever order they arrive in.
        if (random.NextDouble() < 0.1)
        {
            batches = [.. batches.OrderBy(_ => random.Next())];
        }

        var path = $"/enterprise/v2/tasks/{taskId}";
        foreach (var (batch, batchRows) in batches)
        {
            var body = $"{{\"lease_token\":\"{token}\",\"batch\":{batch},\"rows\":[{string.Join(',', batchRows)}]}}";
            if (!await TaskCallAsync(path + "/rows", key, body, expectDuplicate: false, cancellationToken))
            {
                return;
            }
            if (random.NextDouble() < 0.03 && !await TaskCallAsync(path + "/rows", key, body, expectDuplicate: true, cancellationToken))
            {
                return;
            }
        }
        if (random.NextDouble() < 0.1
            && !await TaskCallAsync(path + "/heartbeat", key, $"{{\"lease_token\":\"{token}\",\"lease_seconds\":10}}", expectDuplicate: false, cancellationToken))
        {
            return;
        }
        var complete = $"{{\"lease_token\":\"{token}\",\"rows\":[{string.Join(',', rows.Skip(rows.Count - inComplete))}]}}";
        if (await TaskCallAsync(path + "/complete", key, complete, expectDuplicate: false, cancellationToken) && random.NextDouble() < 0.03)
        {
            await TaskCallAsync(path + "/complete", key, complete, expectDuplicate: true, cancellationToken);
        }
    }

    /// <summary>True when the call was taken; a 409 or 404 (the query was stopped, or the lease is gone) drops the task.</summary>
    private async Task<bool> TaskCallAsync(string path, string key, string body, bool expectDuplicate, CancellationToken cancellationToken)
    {
        var answer = await CallAsync(HttpMethod.Post, path, key, body, cancellationToken);
        switch (answer.Status)
        {
            case HttpStatusCode.OK:
                var duplicate = answer.Json!.Value.GetProperty("duplicate").GetBoolean();
                if (duplicate != expectDuplicate)
                {
                    Mismatch($"{path}: duplicate {duplicate}, expected {expectDuplicate}");
                }
                if (duplicate)
                {
                    Interlocked.Increment(ref _counts.Duplicates);
                }
                return true;
            case HttpStatusCode.Conflict or HttpStatusCode.NotFound:
                Interlocked.Increment(ref _counts.TaskCallsRefused);
                return false;
            default:
                Unexpected(path, answer);
                return false;
        }
    }

    private async Task ExpiryLoopAsync(ExpiryChecks expired, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await expired.CheckDueAsync(this, DateTime.UtcNow, cancellationToken);
            await Task.Delay(500, cancellationToken);
        }
    }

    private async Task CheckExpiredAsync(string key, string scheduleId, CancellationToken cancellationToken)
    {
        var answer = await CallAsync(HttpMethod.Get, $"/enterprise/v2/query/status?schedule_id={scheduleId}", key, null, cancellationToken);
        if (answer.Status == HttpStatusCode.NotFound)
        {
            Interlocked.Increment(ref _counts.ExpiredNotFound);
        }
        else
        {
            Interlocked.Increment(ref _counts.ExpiredStillServed);
            Console.Error.WriteLine($"{scheduleId} answered {(int)answer.Status} after its retention and two sweeps");
        }
    }

    private sealed class ExpiryChecks
    {
        private readonly Queue<(string Key, string ScheduleId, DateTime Due)> _due = new();

        public void Add(string key, string scheduleId, DateTime due)
        {
            lock (_due)
            {
                _due.Enqueue((key, scheduleId, due));
            }
        }

        public async Task CheckDueAsync(Soak soak, DateTime now, CancellationToken cancellationToken)
        {
            while (true)
            {
                (string Key, string ScheduleId, DateTime Due) next;
                lock (_due)
                {
                    if (!_due.TryPeek(out next) || next.Due > now)
                    {
                        return;
                    }
                    _due.Dequeue();
                }
                await soak.CheckExpiredAsync(next.Key, next.ScheduleId, cancellationToken);
            }
        }

        /// <summary>After the load: everything still queued is due by the time the quiet period has passed.</summary>
        public Task DrainAsync(Soak soak, CancellationToken cancellationToken) => CheckDueAsync(soak, DateTime.MaxValue, cancellationToken);
    }

    private readonly record struct Answer(HttpStatusCode Status, JsonElement? Json, string Text);

    private async Task<Answer> CallAsync(HttpMethod method, string path, string key, string? json, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var response = await _http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if ((int)response.StatusCode >= 500)
        {
            Interlocked.Increment(ref _counts.ServerErrors);
            Console.Error.WriteLine($"{method} {path.Split('?')[0]} answered {(int)response.StatusCode}: {text}");
        }
        JsonElement? parsed = null;
        if (text.Length > 0 && text[0] == '{')
        {
            using var document = JsonDocument.Parse(text);
            parsed = document.RootElement.Clone();
        }
        return new Answer(response.StatusCode, parsed, text);
    }

    private void Unexpected(string what, Answer answer)
    {
        if ((int)answer.Status < 500)
        {
            Interlocked.Increment(ref _counts.OtherUnexpected);
            Console.Error.WriteLine($"{what} answered {(int)answer.Status}: {answer.Text}");
        }
    }

    private void Mismatch(string what)
    {
        Interlocked.Increment(ref _counts.Mismatches);
        Console.Error.WriteLine("MISMATCH " + what);
    }

    /// <summary>One sub-query: its rows are made from the payload alone, so the client can rebuild them to compare.</summary>
    private sealed record Part(string Query, int Index, int Rows, int Seed)
    {
        public string Payload => $"{{\"q\":\"{Query}\",\"p\":{Index},\"n\":{Rows},\"s\":{Seed}}}";

        public static Part From(JsonElement payload) => new(
            payload.GetProperty("q").GetString()!, payload.GetProperty("p").GetInt32(), payload.GetProperty("n").GetInt32(), payload.GetProperty("s").GetInt32());

        public string Row(int i)
        {
            // 10-60 characters of filler, different per row: rows are not all the same size.
            var hash = (uint)HashCode.Combine(Seed, Index, i);
            var filler = new string((char)('a' + (hash % 26)), 10 + (int)(hash % 51));
            return $"{{\"q\":\"{Query}\",\"p\":{Index},\"i\":{i},\"v\":\"{filler}\"}}";
        }
    }

    private sealed class Counts
    {
        public long Submitted, Succeeded, Stopped, Failed, QueriesDone, RowsRead, Polls, Mismatches, ServerErrors, OtherUnexpected,
            Dropped, ExpiredNotFound, ExpiredStillServed, Duplicates, Abandoned, TaskCallsRefused;
    }

    private sealed record Sample(TimeSpan At, long Rss, long QueriesDone, long RowsRead, long Polls, long Mismatches, long ServerErrors);

    // ---- the report ----------------------------------------------------------------------------

    private Report BuildReport(DateTimeOffset started, TimeSpan load, TimeSpan loadEnded, double? heapAtReference, double heapAtEnd, CountersCsv gauges)
    {
        var c = _counts;
        var fromReference = _samples.Where(s => s.At >= ReferenceMinute && s.At <= loadEnded).ToList();
        var rssSlope = Slope(fromReference.Select(s => (s.At.TotalMinutes, s.Rss / 1e6)));
        var heapSlope = Slope(gauges.Heap.Where(h => h.At >= ReferenceMinute && h.At <= loadEnded).Select(h => (h.At.TotalMinutes, h.Bytes / 1e6)));
        var heapRatio = heapAtReference is > 0 ? heapAtEnd / heapAtReference.Value : double.NaN;
        var zeroAt = gauges.Store.Where(g => g.At > loadEnded && g.Schedules == 0 && g.Rows == 0).Select(g => (TimeSpan?)g.At).FirstOrDefault();
        var zeroLimit = options.SoakRetention + (2 * options.SoakSweep);
        var zeroMet = zeroAt is { } z && z - loadEnded <= zeroLimit + SampleEvery;

        var targets = new List<(string What, string Figure, bool Met)>
        {
            ("RSS slope from minute 3 to the end of the load ≤ 2 MB/min", $"{rssSlope:F2} MB/min", rssSlope <= 2),
            ("managed heap after a forced full GC, end ÷ minute 3 ≤ 1.25",
                $"{heapAtEnd / 1048576.0:F1} MiB ÷ {(heapAtReference ?? double.NaN) / 1048576.0:F1} MiB = {heapRatio:F2}", heapRatio <= 1.25),
            ("every row of every finished query read back exactly", $"{c.RowsRead:N0} rows, {c.Mismatches} mismatches", c.Mismatches == 0),
            ("no 5xx, no dropped connection, nothing unexpected", $"{c.ServerErrors} 5xx, {c.Dropped} dropped, {c.OtherUnexpected} unexpected",
                c.ServerErrors == 0 && c.Dropped == 0 && c.OtherUnexpected == 0),
            ("store gauges at 0 schedules and 0 rows within retention + 2 sweeps of the load's end",
                zeroAt is { } at ? $"0 at {(at - loadEnded).TotalSeconds:F0} s after the load (limit {zeroLimit.TotalSeconds:F0} s, sampled every 10 s)" : "never 0",
                zeroMet),
            ("every expired query answered 404", $"{c.ExpiredNotFound:N0} of {c.ExpiredNotFound + c.ExpiredStillServed:N0}", c.ExpiredStillServed == 0),
        };
        var allMet = targets.All(t => t.Met);

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Soak run {started:yyyy-MM-dd HH:mm} UTC, `bench/run.sh {options.CommandLine}`: {load.TotalMinutes:F0} min of load, " +
            $"{Clients} clients x {QueriesInFlightPerClient} queries in flight, {Workers} workers, retention {options.SoakRetention}, sweep {options.SoakSweep}.");
        md.AppendLine();
        md.AppendLine("| minute | RSS MiB | managed heap MiB | heap committed MiB | schedules | tasks | rows | row MiB | queries done | rows read |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var end = _samples.Count == 0 ? 0 : (int)Math.Ceiling(_samples[^1].At.TotalMinutes);
        for (var minute = 1; minute <= end; minute++)
        {
            var s = _samples.LastOrDefault(x => x.At.TotalMinutes <= minute);
            if (s is null)
            {
                continue;
            }
            var g = gauges.Store.LastOrDefault(x => x.At.TotalMinutes <= minute);
            var h = gauges.Heap.LastOrDefault(x => x.At.TotalMinutes <= minute);
            var label = minute <= Math.Ceiling(loadEnded.TotalMinutes) ? minute.ToString(CultureInfo.InvariantCulture) : $"{minute} (idle)";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {label} | {s.Rss / 1048576.0:F0} | {Mib(h?.Bytes)} | {Mib(h?.Committed)} | {g?.Schedules.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} | " +
                $"{g?.Tasks.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} | {g?.Rows.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} | {Mib(g?.RowBytes)} | " +
                $"{s.QueriesDone:N0} | {s.RowsRead:N0} |");
        }
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Slopes from minute 3 to the end of the load (least squares over every 10 s sample): RSS {rssSlope:F2} MB/min, " +
            $"managed heap (after each GC) {heapSlope:F2} MB/min.");
        md.AppendLine();
        md.AppendLine("| target | figure | verdict |");
        md.AppendLine("|---|---|---|");
        foreach (var (what, figure, met) in targets)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {what} | {figure} | {(met ? "met" : "MISSED")} |");
        }
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"Traffic: {c.Submitted:N0} queries submitted, {c.Succeeded:N0} SUCCESS (read back), {c.Stopped:N0} STOPPED, {c.Failed:N0} FAILURE; " +
            $"{c.Polls:N0} polls; {c.RowsRead:N0} rows read; {c.Duplicates:N0} repeated batches/completions acknowledged as duplicates; " +
            $"{c.Abandoned:N0} leases abandoned; {c.TaskCallsRefused:N0} task calls refused (409/404: stopped queries, lost leases); " +
            $"{c.ExpiredNotFound:N0} expired queries polled, 404.");

        var text = md.ToString();
        return new Report(text, _log + Environment.NewLine + text, allMet);

        static string Mib(double? bytes) => bytes is { } b ? (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "-";
    }

    /// <summary>Least-squares slope of y over x.</summary>
    private static double Slope(IEnumerable<(double X, double Y)> points)
    {
        var p = points.ToList();
        if (p.Count < 2)
        {
            return double.NaN;
        }
        var mx = p.Average(q => q.X);
        var my = p.Average(q => q.Y);
        var sxx = p.Sum(q => (q.X - mx) * (q.X - mx));
        return sxx == 0 ? double.NaN : p.Sum(q => (q.X - mx) * (q.Y - my)) / sxx;
    }

    private sealed record HeapPoint(TimeSpan At, double Bytes, double Committed);

    private sealed record StorePoint(TimeSpan At, long Schedules, long Tasks, long Rows, double RowBytes);

    /// <summary>dotnet-counters' CSV: the runtime's heap after each GC and the store's gauges, by time since the start.</summary>
    private sealed class CountersCsv
    {
        public List<HeapPoint> Heap { get; } = [];

        public List<StorePoint> Store { get; } = [];

        public static CountersCsv Read(string path, DateTimeOffset started)
        {
            var result = new CountersCsv();
            if (!File.Exists(path))
            {
                return result;
            }
            var byTime = new SortedDictionary<DateTime, Dictionary<string, double>>();
            foreach (var line in File.ReadLines(path).Skip(1))
            {
                var fields = line.Split(',');
                if (fields.Length < 5
                    || !DateTime.TryParse(fields[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var time)
                    || !double.TryParse(fields[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    continue;
                }
                var name = fields[2];
                var values = byTime.TryGetValue(time, out var v) ? v : byTime[time] = [];
                // The heap size comes per generation: the total is their sum.
                var key = name.StartsWith("dotnet.gc.last_collection.heap.size", StringComparison.Ordinal) ? "heap"
                    : name.StartsWith("dotnet.gc.last_collection.memory.committed_size", StringComparison.Ordinal) ? "committed"
                    : name.Split(' ')[0];
                values[key] = values.GetValueOrDefault(key) + value;
            }
            foreach (var (time, values) in byTime)
            {
                var at = new DateTimeOffset(time.ToUniversalTime()) - started;
                if (values.TryGetValue("heap", out var heap))
                {
                    result.Heap.Add(new HeapPoint(at, heap, values.GetValueOrDefault("committed")));
                }
                if (values.TryGetValue("querystatus.store.schedules", out var schedules))
                {
                    result.Store.Add(new StorePoint(at, (long)schedules, (long)values.GetValueOrDefault("querystatus.store.tasks"),
                        (long)values.GetValueOrDefault("querystatus.store.rows"), values.GetValueOrDefault("querystatus.store.row_bytes")));
                }
            }
            return result;
        }
    }
}
