using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using QueryStatus.Bench;

// QueryStatus against a bare minimal-API baseline, in interleaved wrk slices. See bench/README.md and
// `bench/run.sh --help`. Build first (bench/run.sh does): this program runs the Release builds.

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
Options options;
try
{
    options = Options.Parse(args);
}
catch (BenchException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var servers = new List<Server>();
var workDir = Directory.CreateTempSubdirectory("querystatus-bench-").FullName;
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => servers.ForEach(s => s.Dispose());

try
{
    var report = options.LongPollQueries > 0
        ? await LongPollBench.RunReportAsync(options.LongPollQueries, workDir, cancel.Token)
        : options.SoakMinutes > 0
        ? await new Soak(options, servers, workDir).RunAsync(cancel.Token)
        : await new Bench(options, servers, workDir).RunAsync(cancel.Token);
    Console.WriteLine();
    Console.WriteLine(report.Summary);
    if (options.Markdown is { } file)
    {
        await File.WriteAllTextAsync(file, report.Markdown);
        Console.WriteLine($"Markdown report written to {file}");
    }
    return report.AllResponsesOk ? 0 : 1;
}
catch (BenchException e)
{
    Console.Error.WriteLine();
    Console.Error.WriteLine("BENCHMARK FAILED: " + e.Message);
    return 1;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("interrupted");
    return 130;
}
finally
{
    foreach (var server in servers)
    {
        server.Dispose();
    }
    try
    {
        Directory.Delete(workDir, recursive: true);
    }
    catch (IOException)
    {
    }
}

namespace QueryStatus.Bench
{
    public sealed record Side(string Name, Server Server, string PathAndQuery, IReadOnlyList<string> Headers)
    {
        public string Url => Server.BaseUrl + PathAndQuery;
    }

    /// <summary>Two sides measured in alternating slices; ratios are A / B.</summary>
    public sealed record Scenario(string Name, string What, Side A, Side B, string TargetText, Func<Ratios, bool>? Meets, bool TimeRatio = false);

    public sealed record Ratios(double Rps, double Cpu, double P50, double P99);

    public sealed record ScenarioResult(Scenario Scenario, int BodyBytes, List<(Side Side, Slice Slice)> Slices, List<Ratios> Pairs, Ratios Median)
    {
        public string Verdict => Scenario.Meets is null ? "(no target)" : Scenario.Meets(Median) ? "met" : "MISSED";
    }

    public sealed record Report(string Summary, string Markdown, bool AllResponsesOk);

    public sealed class Bench(Options options, List<Server> servers, string workDir)
    {
        private const string License = "lic_bench";
        private const string WritesLicense = "lic_writes";
        private const string JwtIssuer = "querystatus-bench";
        private const string JwtAudience = "querystatus";
        private const string Running = "bench_running";
        private const string Mid = "bench_mid";
        private const string Big = "bench_big";
        private const long OffsetMax = 1_000_000; // the status endpoint's largest offset (ParameterRules.OffsetMax)

        private readonly StringBuilder _log = new();
        private readonly string _clientKey = RandomKey();
        private readonly string _workerKey = RandomKey();
        private readonly string _writesKey = RandomKey();
        private readonly byte[] _jwtKey = RandomNumberGenerator.GetBytes(64);

        private static string RandomKey() =>
            "bench_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

        private void Log(string line)
        {
            Console.WriteLine(line);
            _log.AppendLine(line);
        }

        public async Task<Report> RunAsync(CancellationToken cancellationToken)
        {
            var root = RepoRoot();
            var apiDll = Path.Combine(root, "src/QueryStatus.Api/bin/Release/net10.0/QueryStatus.Api.dll");
            var baselineDll = Path.Combine(root, "bench/Baseline/bin/Release/net10.0/Baseline.dll");
            foreach (var dll in new[] { apiDll, baselineDll })
            {
                if (!File.Exists(dll))
                {
                    throw new BenchException($"{dll} is missing: build Release first (bench/run.sh does).");
                }
            }
            Wrk.EnsureInstalled();

            var started = DateTimeOffset.UtcNow;
            var machine = Machine();
            Log($"QueryStatus benchmark, {started:yyyy-MM-dd HH:mm} UTC; {machine.Replace("\n", "; ")}");
            Log($"mode: {(options.Quick ? "quick" : "full")}: {options.SliceSeconds} s slices, {options.Pairs} pair(s), " +
                $"wrk -t2 -c{options.Connections}, big result {options.BigRows:N0} rows");

            var qs = await StartQueryStatusAsync(apiDll);
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(5) };
            var api = new ApiClient(http, qs.BaseUrl);

            // ---- data, through the real API ------------------------------------------------------
            Log("loading data through the HTTP API ...");
            await api.SubmitAsync(_clientKey, Running, ["{\"part\":0}"], cancellationToken);
            var runningLease = await api.LeaseOneAsync(_workerKey, "bench-holder", 600, 5, cancellationToken)
                ?? throw new BenchException("could not lease the RUNNING schedule's task");

            var mid = await WriteSide.IngestAsync(api, qs, _clientKey, _workerKey, Mid, parts: 4, rowsPerPart: options.MidRows / 4,
                batchRows: 5_000, workers: 4, cancellationToken);
            Log($"  {Mid}: {mid.Rows:N0} rows in {mid.Elapsed.TotalSeconds:F1} s");

            var bigParts = (int)Math.Clamp(options.BigRows / 100_000, 1, 10_000);
            if (options.BigRows % bigParts != 0)
            {
                throw new BenchException("--big-rows must be a multiple of 100,000 (or less than it)");
            }
            var rssBefore = qs.ResidentBytes();
            var big = await WriteSide.IngestAsync(api, qs, _clientKey, _workerKey, Big, bigParts, (int)(options.BigRows / bigParts),
                batchRows: 50_000, workers: 8, cancellationToken);
            GC.Collect();
            var rssAfter = qs.ResidentBytes();
            var rowBytes = ApiClient.RowLength;
            Log($"  {Big}: {big.Rows:N0} rows of {rowBytes} B in {big.Elapsed.TotalSeconds:F1} s = {big.RowsPerSecond:N0} rows/s " +
                $"(8 workers, 50,000-row batches; server CPU {big.ServerCpuUs / (double)big.Rows:F2} µs per row); " +
                $"server RSS {rssBefore / 1048576.0:N0} → {rssAfter / 1048576.0:N0} MiB");

            // ---- scenarios ---------------------------------------------------------------------
            var bodiesDir = Directory.CreateDirectory(Path.Combine(workDir, "bodies")).FullName;
            var jwt = Jwt.CreateHs256(_jwtKey, JwtIssuer, JwtAudience, License, TimeSpan.FromHours(3));
            var status = "/enterprise/v2/query/status";
            var deepStart = Math.Min(options.BigRows, OffsetMax) - 100;
            var deepNote = options.BigRows > OffsetMax
                ? $" (the deepest page the API addresses: offsets stop at {OffsetMax:N0})"
                : "";
            var keyHeader = Array.Empty<string>();
            string[] jwtHeader = [$"Authorization: Bearer {jwt}"];

            var definitions = new List<(string Name, string What, string Path, string[] Headers, string Target, Func<Ratios, bool>? Meets)>
            {
                ("running-apikey", "RUNNING status (no rows), api_key parameter",
                    $"{status}?schedule_id={Running}&api_key={_clientKey}", keyHeader,
                    "req/s ≥ 0.75, CPU/req ≤ 1.45", r => r.Rps >= 0.75 && r.Cpu <= 1.45),
                ("running-jwt", "RUNNING status (no rows), Authorization: Bearer <JWT, HS256>",
                    $"{status}?schedule_id={Running}", jwtHeader,
                    "req/s ≥ 0.70", r => r.Rps >= 0.70),
                ("page-100", $"SUCCESS, 100-row page of a {options.MidRows:N0}-row result",
                    $"{status}?schedule_id={Mid}&offset_start=5000&offset_end=5100&api_key={_clientKey}", keyHeader,
                    "—", null),
                ("page-10k", $"SUCCESS, 10,000-row page of a {options.MidRows:N0}-row result",
                    $"{status}?schedule_id={Mid}&offset_start=0&offset_end=10000&api_key={_clientKey}", keyHeader,
                    "req/s ≥ 0.80", r => r.Rps >= 0.80),
                ("page-big-last", $"SUCCESS, 100-row page [{deepStart:N0}, {deepStart + 100:N0}) of a {options.BigRows:N0}-row result{deepNote}",
                    $"{status}?schedule_id={Big}&offset_start={deepStart}&offset_end={deepStart + 100}&api_key={_clientKey}", keyHeader,
                    "—", null),
            };
            var firstPagePath = $"{status}?schedule_id={Big}&offset_start=0&offset_end=100&api_key={_clientKey}";

            // Capture each QueryStatus answer; the baseline serves exactly those bytes.
            var bodies = new Dictionary<string, int>();
            foreach (var d in definitions)
            {
                var body = await ApiClient.GetBodyAsync(http, qs.BaseUrl + d.Path, d.Headers, cancellationToken);
                await File.WriteAllBytesAsync(Path.Combine(bodiesDir, d.Name + ".json"), body, cancellationToken);
                bodies[d.Name] = body.Length;
            }
            var firstBody = await ApiClient.GetBodyAsync(http, qs.BaseUrl + firstPagePath, keyHeader, cancellationToken);
            bodies["page-big-last-vs-first"] = bodies["page-big-last"];

            var baseline = await Server.StartAsync("Baseline", baselineDll,
                new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production" }, ["--Bodies", bodiesDir], workDir);
            servers.Add(baseline);
            foreach (var d in definitions)
            {
                var served = await ApiClient.GetBodyAsync(http, $"{baseline.BaseUrl}/{d.Name}", d.Headers, cancellationToken);
                if (served.Length != bodies[d.Name])
                {
                    throw new BenchException($"baseline serves {served.Length} B for {d.Name}, QueryStatus {bodies[d.Name]} B");
                }
            }

            var scenarios = definitions
                .Select(d => new Scenario(d.Name, d.What,
                    new Side("QueryStatus", qs, d.Path, d.Headers),
                    new Side("baseline", baseline, "/" + d.Name, d.Headers),
                    d.Target, d.Meets))
                .ToList();
            scenarios.Add(new Scenario("page-big-last-vs-first",
                $"QueryStatus alone: page [{deepStart:N0}, {deepStart + 100:N0}) (A) against page [0, 100) (B) of the {options.BigRows:N0}-row result " +
                $"({bodies["page-big-last"]} B vs {firstBody.Length} B)",
                new Side("QS last page", qs, scenarios[^1].A.PathAndQuery, keyHeader),
                new Side("QS first page", qs, firstPagePath, keyHeader),
                "time/req ≤ 1.10× the first page", r => 1 / r.Rps <= 1.10, TimeRatio: true));
            if (options.Only is { } only)
            {
                scenarios = [.. scenarios.Where(s => only.Contains(s.Name))];
            }

            // Tiered JIT and dynamic PGO take many seconds of load to settle on a busy machine: load every QueryStatus
            // path once before any scenario, so that no scenario's first slice measures a half-compiled server.
            Log("");
            Log($"warming up QueryStatus: {options.WarmupSeconds} s of load on each scenario's URL ...");
            foreach (var scenario in scenarios)
            {
                Check(scenario, scenario.A, await Wrk.RunAsync("warm-up", scenario.A.Server, scenario.A.Url, scenario.A.Headers,
                    options.WarmupSeconds, options.Connections));
            }

            var results = new List<ScenarioResult>();
            foreach (var scenario in scenarios)
            {
                // Keep the RUNNING schedule's lease alive (600 s at most per heartbeat).
                (await api.PostAsync($"/enterprise/v2/tasks/{runningLease.TaskId}/heartbeat", _workerKey,
                    $"{{\"lease_token\":\"{runningLease.LeaseToken}\",\"lease_seconds\":600}}", cancellationToken)).Dispose();
                results.Add(await RunScenarioAsync(scenario, bodies[scenario.Name], cancellationToken));
            }

            // ---- write side (QueryStatus alone) --------------------------------------------------
            List<TaskSlice> taskSlices = [];
            if (options.WriteSide && options.Only is null)
            {
                Log("");
                Log($"== write side: 8 workers lease one task and complete it with one row, while a feeder keeps {WritesLicense}'s queue stocked");
                taskSlices = await WriteSide.TaskThroughputAsync(api, qs, _writesKey, _workerKey, workers: 8,
                    seconds: options.SliceSeconds, slices: options.WriteSlices, TimeSpan.FromSeconds(options.WarmupSeconds), Log, cancellationToken);
            }

            qs.EnsureRunning();
            baseline.EnsureRunning();
            return BuildReport(started, machine, results, big, rowBytes, rssBefore, rssAfter, taskSlices);
        }

        private async Task<Server> StartQueryStatusAsync(string apiDll)
        {
            // Production configuration (appsettings.json: request logging at Information, the rate limiter on),
            // with credentials made for this run and a limit high enough never to reject.
            var env = new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["Auth__ApiKeys__0__KeyHash"] = Sha256(_clientKey),
                ["Auth__ApiKeys__0__LicenseId"] = License,
                ["Auth__ApiKeys__0__Name"] = "bench-client",
                ["Auth__ApiKeys__1__KeyHash"] = Sha256(_workerKey),
                ["Auth__ApiKeys__1__Name"] = "bench-worker",
                ["Auth__ApiKeys__1__Scopes__0"] = "worker",
                ["Auth__ApiKeys__2__KeyHash"] = Sha256(_writesKey),
                ["Auth__ApiKeys__2__LicenseId"] = WritesLicense,
                ["Auth__ApiKeys__2__Name"] = "bench-writes",
                ["Authentication__Schemes__Bearer__ValidIssuer"] = JwtIssuer,
                ["Authentication__Schemes__Bearer__ValidAudiences__0"] = JwtAudience,
                ["Authentication__Schemes__Bearer__SigningKeys__0__Issuer"] = JwtIssuer,
                ["Authentication__Schemes__Bearer__SigningKeys__0__Value"] = Convert.ToBase64String(_jwtKey),
                ["RateLimiting__PermitLimit"] = "100000000",
                // The write side drives 8 workers on one worker key, far past one worker credential's default budget.
                ["RateLimiting__Workers__PermitLimit"] = "100000000",
                // The one setting past production defaults: a run may hold the big result (default cap 1,000,000 rows).
                ["Scheduler__MaxRowsPerRun"] = Math.Max(1_000_000, options.BigRows).ToString(CultureInfo.InvariantCulture),
            };
            foreach (var (name, value) in options.QueryStatusSettings)
            {
                env[name] = value;
            }
            var qs = await Server.StartAsync("QueryStatus", apiDll, env, [], workDir);
            servers.Add(qs);
            Log($"QueryStatus pid {qs.Pid} on {qs.BaseUrl} (Production, request logs to /dev/null)" +
                (options.QueryStatusSettings.Count == 0 ? "" : $"; extra settings: {string.Join(", ", options.QueryStatusSettings.Select(s => $"{s.Key}={s.Value}"))}"));
            return qs;
        }

        private async Task<ScenarioResult> RunScenarioAsync(Scenario scenario, int bodyBytes, CancellationToken cancellationToken)
        {
            Log("");
            Log($"== {scenario.Name}: {scenario.What}; body {bodyBytes:N0} B; target (A/B): {scenario.TargetText}");
            Log($"   A = {scenario.A.Name}, B = {scenario.B.Name}");
            Log($"   {"slice",-5} {"side",-14} {"req/s",10} {"p50 ms",8} {"p99 ms",8} {"CPU µs/req",11}");

            // Warm both (JIT, connection pools, caches) before anything counts.
            foreach (var side in new[] { scenario.A, scenario.B })
            {
                var warm = await Wrk.RunAsync("warm-up " + side.Name, side.Server, side.Url, side.Headers, options.WarmupSeconds, options.Connections);
                Check(scenario, side, warm);
            }

            var slices = new List<(Side, Slice)>();
            var pairs = new List<Ratios>();
            for (var p = 0; p < options.Pairs; p++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var order = p % 2 == 0 ? new[] { scenario.A, scenario.B } : [scenario.B, scenario.A];
                var measured = new Dictionary<Side, Slice>();
                foreach (var side in order)
                {
                    var slice = await Wrk.RunAsync(side.Name, side.Server, side.Url, side.Headers, options.SliceSeconds, options.Connections);
                    Check(scenario, side, slice);
                    measured[side] = slice;
                    slices.Add((side, slice));
                    Log($"   {p + 1,-5} {side.Name,-14} {slice.RequestsPerSecond,10:F0} {slice.P50Ms,8:F2} {slice.P99Ms,8:F2} {slice.ServerCpuUsPerRequest,11:F1}" +
                        (IsClean(slice.SocketErrors) ? "" : $"  socket errors: {slice.SocketErrors}"));
                }
                var a = measured[scenario.A];
                var b = measured[scenario.B];
                pairs.Add(new Ratios(a.RequestsPerSecond / b.RequestsPerSecond, a.ServerCpuUsPerRequest / b.ServerCpuUsPerRequest,
                    a.P50Ms / b.P50Ms, a.P99Ms / b.P99Ms));
            }
            var median = new Ratios(Median(pairs.Select(r => r.Rps)), Median(pairs.Select(r => r.Cpu)),
                Median(pairs.Select(r => r.P50)), Median(pairs.Select(r => r.P99)));
            var result = new ScenarioResult(scenario, bodyBytes, slices, pairs, median);
            Log($"   pair ratios A/B: req/s {string.Join(" ", pairs.Select(r => r.Rps.ToString("F2")))}; " +
                $"CPU/req {string.Join(" ", pairs.Select(r => r.Cpu.ToString("F2")))}");
            Log($"   median A/B: req/s {median.Rps:F2}, CPU/req {median.Cpu:F2}, p50 {median.P50:F2}, p99 {median.P99:F2}" +
                (scenario.TimeRatio ? $"; time/req {1 / median.Rps:F2}" : "") + $"  → {result.Verdict}");
            return result;
        }

        private static bool IsClean(string socketErrors) => string.IsNullOrEmpty(socketErrors);

        /// <summary>Any answer that is not 2xx fails the whole run, loudly.</summary>
        private static void Check(Scenario scenario, Side side, Slice slice)
        {
            if (slice.Non2xx > 0)
            {
                throw new BenchException($"{scenario.Name}: {side.Name} answered {slice.Non2xx:N0} of {slice.Requests:N0} requests with a non-2xx status " +
                    $"(URL {ApiClient.Redact(side.Url)}). Every response must be 2xx.");
            }
            if (slice.Requests == 0)
            {
                throw new BenchException($"{scenario.Name}: {side.Name} answered no request at all.");
            }
        }

        private Report BuildReport(DateTimeOffset started, string machine, List<ScenarioResult> results, IngestResult big, int rowBytes,
            long rssBefore, long rssAfter, List<TaskSlice> taskSlices)
        {
            var elapsed = DateTimeOffset.UtcNow - started;
            var text = new StringBuilder();
            text.AppendLine("Summary (medians of the per-pair ratios; A = QueryStatus, B = the baseline unless said otherwise)");
            text.AppendLine($"{"scenario",-24} {"body B",9} {"A req/s",9} {"B req/s",9} {"req/s A/B",9} {"CPU/req A/B",11} {"p50 A/B",8} {"p99 A/B",8}  {"target",-32} verdict");
            foreach (var r in results)
            {
                text.AppendLine($"{r.Scenario.Name,-24} {r.BodyBytes,9:N0} {MedianRps(r, r.Scenario.A),9:F0} {MedianRps(r, r.Scenario.B),9:F0} " +
                    $"{r.Median.Rps,9:F2} {r.Median.Cpu,11:F2} {r.Median.P50,8:F2} {r.Median.P99,8:F2}  {r.Scenario.TargetText,-32} {r.Verdict}" +
                    (r.Scenario.TimeRatio ? $" (time/req {1 / r.Median.Rps:F2})" : ""));
            }
            text.AppendLine($"ingest: {big.Rows:N0} rows of {rowBytes} B in {big.Elapsed.TotalSeconds:F1} s = {big.RowsPerSecond:N0} rows/s " +
                $"(server CPU {big.ServerCpuUs / (double)big.Rows:F2} µs/row; server RSS {rssBefore / 1048576.0:N0} → {rssAfter / 1048576.0:N0} MiB)");
            if (taskSlices.Count > 0)
            {
                text.AppendLine($"tasks: {Median(taskSlices.Select(t => t.TasksPerSecond)):F0} tasks/s leased+completed by 8 workers (median of {taskSlices.Count}); " +
                    $"server CPU {Median(taskSlices.Select(t => t.ServerCpuUsPerTask)):F0} µs per task");
            }
            text.Append($"total time {elapsed.TotalMinutes:F1} min");

            var md = new StringBuilder();
            md.AppendLine($"- date: {started:yyyy-MM-dd HH:mm} UTC, run took {elapsed.TotalMinutes:F1} min");
            md.AppendLine($"- machine: {machine.Replace("\n", "; ")}");
            md.AppendLine($"- command: `bench/run.sh {options.CommandLine}`".Replace(" `", " `").TrimEnd());
            md.AppendLine($"- load: wrk -t2 -c{options.Connections} --latency, {options.SliceSeconds} s slices, {options.Pairs} pair(s) per scenario " +
                "(A B, B A, …), after a warm-up slice of each side; server CPU = utime+stime from /proc/<pid>/stat around each slice");
            md.AppendLine();
            md.AppendLine("| scenario | body (B) | QueryStatus req/s | baseline req/s | req/s ratio | CPU/req ratio | p50 ratio | p99 ratio | target | verdict |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
            foreach (var r in results)
            {
                md.AppendLine($"| {r.Scenario.Name} | {r.BodyBytes:N0} | {MedianRps(r, r.Scenario.A):F0} | {MedianRps(r, r.Scenario.B):F0} | " +
                    $"{r.Median.Rps:F2} | {r.Median.Cpu:F2} | {r.Median.P50:F2} | {r.Median.P99:F2} | {r.Scenario.TargetText} | {r.Verdict}" +
                    (r.Scenario.TimeRatio ? $" (time/req {1 / r.Median.Rps:F2})" : "") + " |");
            }
            md.AppendLine();
            md.AppendLine($"Write side (QueryStatus alone): ingest of {big.Rows:N0} rows of {rowBytes} B by 8 workers in 50,000-row batches: " +
                $"**{big.RowsPerSecond:N0} rows/s** ({big.Elapsed.TotalSeconds:F1} s; server CPU {big.ServerCpuUs / (double)big.Rows:F2} µs per row; " +
                $"server RSS {rssBefore / 1048576.0:N0} → {rssAfter / 1048576.0:N0} MiB).");
            if (taskSlices.Count > 0)
            {
                md.AppendLine($"Tasks leased and completed by 8 concurrent workers: **{Median(taskSlices.Select(t => t.TasksPerSecond)):F0} tasks/s** " +
                    $"(median of {taskSlices.Count} slices: {string.Join(", ", taskSlices.Select(t => t.TasksPerSecond.ToString("F0")))}; " +
                    $"server CPU {Median(taskSlices.Select(t => t.ServerCpuUsPerTask)):F0} µs per task, i.e. per lease + complete).");
            }
            md.AppendLine();
            md.AppendLine("Every slice:");
            md.AppendLine();
            md.AppendLine("| scenario | pair | side | req/s | p50 ms | p99 ms | server CPU µs/req | socket errors |");
            md.AppendLine("|---|---:|---|---:|---:|---:|---:|---|");
            foreach (var r in results)
            {
                for (var i = 0; i < r.Slices.Count; i++)
                {
                    var (side, s) = r.Slices[i];
                    md.AppendLine($"| {r.Scenario.Name} | {(i / 2) + 1} | {side.Name} | {s.RequestsPerSecond:F0} | {s.P50Ms:F2} | {s.P99Ms:F2} | " +
                        $"{s.ServerCpuUsPerRequest:F1} | {(IsClean(s.SocketErrors) ? "" : s.SocketErrors)} |");
                }
            }
            md.AppendLine();
            md.AppendLine("Scenarios:");
            md.AppendLine();
            foreach (var r in results)
            {
                md.AppendLine($"- `{r.Scenario.Name}`: {r.Scenario.What}");
            }
            return new Report(text.ToString(), md.ToString(), AllResponsesOk: true);
        }

        private static double MedianRps(ScenarioResult r, Side side) =>
            Median(r.Slices.Where(s => s.Side == side).Select(s => s.Slice.RequestsPerSecond));

        private static double Median(IEnumerable<double> values)
        {
            var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
            if (sorted.Length == 0)
            {
                return double.NaN;
            }
            var mid = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }

        internal static string Sha256(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

        internal static string RepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "QueryStatus.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new BenchException("cannot find the repository root (QueryStatus.sln) above " + AppContext.BaseDirectory);
        }

        internal static string Machine()
        {
            var memory = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) ?? "";
            var kb = long.TryParse(memory.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1), CultureInfo.InvariantCulture, out var k) ? k : 0;
            var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            var load = File.ReadAllText("/proc/loadavg").Split(' ').Take(3);
            return $"{Environment.ProcessorCount} CPUs ({cpu}), {kb / 1048576.0:F1} GiB memory, .NET {Environment.Version}, " +
                $"load average before the run {string.Join(" ", load)}";
        }
    }
}
