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
    var report = options.WakeupRounds > 0
        ? await WakeupBench.RunReportAsync(options.WakeupRounds, workDir, cancel.Token)
        : options.LongPollQueries > 0
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
    public sealed record Scenario(string Name, string What, Side A, Side B, string TargetText, Func<Ratios, bool>? Meets, bool TimeRatio = false)
    {
        /// <summary>The verdict's words: "met" / "MISSED" against the baseline, "PASS" / "MISS" for the PostgreSQL store.</summary>
        public (string Pass, string Miss) Words { get; init; } = ("met", "MISSED");
    }

    public sealed record Ratios(double Rps, double Cpu, double P50, double P99);

    public sealed record ScenarioResult(Scenario Scenario, int BodyBytes, List<(Side Side, Slice Slice)> Slices, List<Ratios> Pairs, Ratios Median)
    {
        public bool? Met => Scenario.Meets is null ? null : Scenario.Meets(Median);
        public string Verdict => Met is { } met ? (met ? Scenario.Words.Pass : Scenario.Words.Miss) : "(no target)";
    }

    public sealed record Report(string Summary, string Markdown, bool AllResponsesOk);

    /// <summary>A scenario's URL and its targets: against the bare baseline, and for the PostgreSQL store against the in-memory one.</summary>
    public sealed record Definition(string Name, string What, string Path, string[] Headers,
        string Target, Func<Ratios, bool>? Meets, string PostgresTarget, Func<Ratios, bool>? PostgresMeets);

    /// <summary>One service under test and what was loaded into it through the API.</summary>
    public sealed record Store(string Name, Server Server, ApiClient Api, ApiClient.Lease Running, IngestResult Mid, IngestResult Big, long RssBefore, long RssAfter);

    /// <summary>Throughput of A against B in alternating pairs (rows/s ratio A / B, median of the pairs), with figures for context.</summary>
    public sealed record PairedThroughput(string Name, string What, List<(Throughput A, Throughput B)> Pairs, double Target, List<Throughput> Context)
    {
        public double Ratio => Bench.Median(Pairs.Select(p => p.A.RowsPerSecond / p.B.RowsPerSecond));
        public double MedianA => Bench.Median(Pairs.Select(p => p.A.RowsPerSecond));
        public double MedianB => Bench.Median(Pairs.Select(p => p.B.RowsPerSecond));
        public bool Met => Ratio >= Target;
    }

    /// <summary>What <c>--store postgres</c> measured besides the wrk scenarios.</summary>
    public sealed class PostgresFigures
    {
        public List<(string Name, string Setting, string Source)> Settings { get; set; } = [];
        public List<string> CommandLineSettings { get; set; } = [];
        public string DataDirectory { get; set; } = "";
        public List<PollCost> PollCosts { get; } = [];
        public PairedThroughput? Ingest { get; set; }
        public PairedThroughput? ReadBack { get; set; }
        public List<(string Store, TaskSlice Slice)> Tasks { get; } = [];

        /// <summary>The statements that took the most time in the store's database during each phase (pg_stat_statements).</summary>
        public List<(string Phase, List<Statement> Statements)> Phases { get; } = [];
    }

    public sealed class Bench(Options options, List<Server> servers, string workDir)
    {
        private const string License = "lic_bench";
        private const string WritesLicense = "lic_writes";
        private const string JwtIssuer = "querystatus-bench";
        private const string JwtAudience = "querystatus";
        private const string Running = "bench_running";
        private const string Mid = "bench_mid";
        private const string Big = "bench_big";
        private const string StoreDatabase = "querystatus";
        private const long OffsetMax = 1_000_000; // the status endpoint's largest offset (ParameterRules.OffsetMax)
        private const int PageMax = 10_000; // the page cap (Paging:MaxRows)
        private const string InMemory = "in-memory";
        private const string OnPostgres = "PostgreSQL";

        private readonly StringBuilder _log = new();
        private readonly string _clientKey = RandomKey();
        private readonly string _workerKey = RandomKey();
        private readonly string _writesKey = RandomKey();
        private string[] _sliceWritesKeys = [];
        private readonly byte[] _jwtKey = RandomNumberGenerator.GetBytes(64);

        private static string RandomKey() =>
            "bench_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

        private void Log(string line)
        {
            Console.WriteLine(line);
            _log.AppendLine(line);
        }

        /// <summary>With --only, whether the item named <paramref name="name"/> runs.</summary>
        private bool Selected(string name) => options.Only is null || options.Only.Contains(name);

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
            Log($"runtime environment of the image (the Dockerfile's DOTNET_ lines), on every server: {ImageEnvironment.Describe()}");
            if (!options.Postgres)
            {
                return await RunAgainstBaselineAsync(apiDll, baselineDll, started, machine, cancellationToken);
            }
            Log($"stores: the service on PostgreSQL (A) against the service on the in-memory store (B), side by side; " +
                $"ingest and read-back of {options.IngestRows:N0}-row results against COPY");
            PostgresCluster? cluster = null;
            Server? onPostgres = null;
            try
            {
                cluster = await PostgresCluster.StartAsync(options.PostgresSettings, Log);
                cluster.KeepLogAs = options.PostgresLog;
                var connectionString = await cluster.CreateDatabaseAsync(StoreDatabase);
                if (options.PostgresConnectionOptions is { } extra)
                {
                    connectionString += ";" + extra;
                    Log($"the service's connection string adds: {extra}");
                }
                var memory = await StartQueryStatusAsync(apiDll, "QueryStatus", []);
                onPostgres = await StartQueryStatusAsync(apiDll, "QueryStatus-postgres", new()
                {
                    ["Store__Provider"] = "Postgres",
                    ["ConnectionStrings__QueryStatus"] = connectionString,
                });
                onPostgres.AlsoCount = cluster.CpuMicroseconds;
                return await RunPostgresAsync(memory, onPostgres, cluster, started, machine, cancellationToken);
            }
            finally
            {
                // The service first, so that it does not see its database go away while it runs.
                onPostgres?.Dispose();
                if (cluster is not null)
                {
                    await cluster.DisposeAsync();
                }
            }
        }

        /// <summary>Today's run: QueryStatus (in-memory store) against the bare baseline serving the same bytes.</summary>
        private async Task<Report> RunAgainstBaselineAsync(string apiDll, string baselineDll, DateTimeOffset started, string machine,
            CancellationToken cancellationToken)
        {
            var qs = await StartQueryStatusAsync(apiDll, "QueryStatus", []);
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(5) };

            // ---- data, through the real API ------------------------------------------------------
            Log("loading data through the HTTP API ...");
            var store = await LoadAsync(new ApiClient(http, qs.BaseUrl), qs, "QueryStatus", cancellationToken);

            // ---- scenarios ---------------------------------------------------------------------
            var bodiesDir = Directory.CreateDirectory(Path.Combine(workDir, "bodies")).FullName;
            var (definitions, firstPagePath, deepStart) = Definitions();

            // Capture each QueryStatus answer; the baseline serves exactly those bytes.
            var bodies = new Dictionary<string, int>();
            foreach (var d in definitions)
            {
                var body = await ApiClient.GetBodyAsync(http, qs.BaseUrl + d.Path, d.Headers, cancellationToken);
                await File.WriteAllBytesAsync(Path.Combine(bodiesDir, d.Name + ".json"), body, cancellationToken);
                bodies[d.Name] = body.Length;
            }
            var firstBody = await ApiClient.GetBodyAsync(http, qs.BaseUrl + firstPagePath, [], cancellationToken);
            bodies["page-big-last-vs-first"] = bodies["page-big-last"];

            List<string> baselineArgs = ["--Bodies", bodiesDir];
            if (options.BaselineHoldsData)
            {
                var holdMiB = Math.Max(0, (store.RssAfter - store.RssBefore) / 1048576);
                baselineArgs.AddRange(["--HoldMiB", holdMiB.ToString(CultureInfo.InvariantCulture)]);
                Log($"the baseline holds {holdMiB:N0} MiB, what loading the data added to QueryStatus's resident size (--baseline-holds-data)");
            }
            var baseline = await Server.StartAsync("Baseline", baselineDll,
                new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production" }, baselineArgs, workDir);
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
                new Side("QS last page", qs, scenarios[^1].A.PathAndQuery, []),
                new Side("QS first page", qs, firstPagePath, []),
                "time/req ≤ 1.10× the first page", r => 1 / r.Rps <= 1.10, TimeRatio: true));
            scenarios = [.. scenarios.Where(s => Selected(s.Name))];

            var results = await RunScenariosAsync(scenarios, [store], bodies, warmBothSides: false, cancellationToken);

            // ---- write side (QueryStatus alone) --------------------------------------------------
            List<TaskSlice> taskSlices = [];
            if (options.WriteSide && options.Only is null)
            {
                Log("");
                Log($"== write side: 8 workers lease one task and complete it with one row, while a feeder keeps {WritesLicense}'s queue stocked");
                taskSlices = await WriteSide.TaskThroughputAsync(store.Api, qs, _writesKey, _workerKey, workers: 8,
                    seconds: options.SliceSeconds, slices: options.WriteSlices, TimeSpan.FromSeconds(options.WarmupSeconds), Log, cancellationToken);
            }

            qs.EnsureRunning();
            baseline.EnsureRunning();
            return BuildReport(started, machine, results, [store], taskSlices, null);
        }

        /// <summary>
        /// <c>--store postgres</c>: the same scenarios with the service on PostgreSQL as A and the service on the in-memory
        /// store as B, in alternating slices; then the PostgreSQL store's write and read paths against PostgreSQL's own COPY,
        /// and what a status poll costs in the database.
        /// </summary>
        private async Task<Report> RunPostgresAsync(Server memory, Server onPostgres, PostgresCluster cluster, DateTimeOffset started, string machine,
            CancellationToken cancellationToken)
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(5) };
            var figures = new PostgresFigures
            {
                Settings = await cluster.NonDefaultSettingsAsync(),
                CommandLineSettings = [.. cluster.Settings],
                DataDirectory = cluster.DataDirectory,
            };
            var reference = await PostgresReference.CreateAsync(cluster, StoreDatabase);

            // ---- data, through the real API, into each store -------------------------------------
            var stores = new List<Store>();
            foreach (var (name, server) in new[] { (InMemory, memory), (OnPostgres, onPostgres) })
            {
                Log($"loading data through the HTTP API of the service on the {name} store ...");
                stores.Add(await LoadAsync(new ApiClient(http, server.BaseUrl), server, name, cancellationToken));
            }
            var (inMemory, postgres) = (stores[0], stores[1]);
            var settled = await cluster.SettleAsync(StoreDatabase);
            Log($"PostgreSQL settled after the load (VACUUM (ANALYZE), CHECKPOINT) in {settled.TotalSeconds:F1} s");

            var (definitions, firstPagePath, deepStart) = Definitions();
            var bodies = new Dictionary<string, int>();
            foreach (var d in definitions)
            {
                // Both stores must answer the same rows; the rest of the answer (request id) differs per request.
                var a = await ApiClient.GetBodyAsync(http, onPostgres.BaseUrl + d.Path, d.Headers, cancellationToken);
                var b = await ApiClient.GetBodyAsync(http, memory.BaseUrl + d.Path, d.Headers, cancellationToken);
                if (!Data(a).SequenceEqual(Data(b)))
                {
                    throw new BenchException($"{d.Name}: the service on PostgreSQL answers other rows than the in-memory store ({a.Length} B against {b.Length} B)");
                }
                bodies[d.Name] = a.Length;
            }
            var firstBody = await ApiClient.GetBodyAsync(http, onPostgres.BaseUrl + firstPagePath, [], cancellationToken);
            bodies["page-big-last-vs-first"] = bodies["page-big-last"];

            // ---- ingest through the API against COPY FROM STDIN -------------------------------------
            if (Selected("ingest-vs-copy") || Selected("readback-vs-copy"))
            {
                await reference.ResetStatementsAsync();
                figures.Ingest = await IngestAgainstCopyAsync(inMemory, postgres, reference, cluster, cancellationToken);
                await PhaseStatementsAsync(figures, reference, "ingest-vs-copy");
            }
            if (Selected("readback-vs-copy"))
            {
                await reference.ResetStatementsAsync();
                figures.ReadBack = await ReadBackAgainstCopyAsync(inMemory, postgres, reference, cancellationToken);
                await PhaseStatementsAsync(figures, reference, "readback-vs-copy");
            }

            // ---- scenarios ---------------------------------------------------------------------
            var pass = ("PASS", "MISS");
            var scenarios = definitions
                .Select(d => new Scenario(d.Name, d.What,
                    new Side(OnPostgres, onPostgres, d.Path, d.Headers),
                    new Side(InMemory, memory, d.Path, d.Headers),
                    d.PostgresTarget, d.PostgresMeets) { Words = pass })
                .ToList();
            scenarios.Add(new Scenario("page-big-last-vs-first",
                $"the service on PostgreSQL alone: page [{deepStart:N0}, {deepStart + 100:N0}) (A) against page [0, 100) (B) of the {options.BigRows:N0}-row result " +
                $"({bodies["page-big-last"]} B vs {firstBody.Length} B)",
                new Side("PG last page", onPostgres, scenarios[^1].A.PathAndQuery, []),
                new Side("PG first page", onPostgres, firstPagePath, []),
                "time/req ≤ 1.20× the first page", r => 1 / r.Rps <= 1.20, TimeRatio: true) { Words = pass });
            scenarios = [.. scenarios.Where(s => Selected(s.Name))];
            var results = await RunScenariosAsync(scenarios, stores, bodies, warmBothSides: true, cancellationToken,
                before: _ => reference.ResetStatementsAsync(),
                after: scenario => PhaseStatementsAsync(figures, reference, scenario.Name));

            // ---- what a status poll costs in the database (after the scenarios: the service is warm) ----
            if (Selected("round-trips"))
            {
                Log("");
                Log("== round trips: status polls on the service on PostgreSQL (8 concurrent loops), counted by pg_stat_statements " +
                    "(statements in its database) and by ss (TCP data segments on its connections to PostgreSQL)");
                foreach (var (name, polls) in new[] { ("running-apikey", 2000), ("page-10k", 200), ("page-big-last", 1000) })
                {
                    var d = definitions.Single(x => x.Name == name);
                    var cost = await reference.PollCostAsync(name, onPostgres, http, onPostgres.BaseUrl + d.Path, d.Headers, polls, 8, cancellationToken);
                    figures.PollCosts.Add(cost);
                    Log($"   {name}: {cost.Polls:N0} polls: {cost.StatementsPerPoll:F3} statements per poll, {cost.RoundTripsPerPoll:F3} round trips per poll " +
                        $"({cost.SegmentsToServer:N0} segments to PostgreSQL, {cost.SegmentsFromServer:N0} back, on its connections, " +
                        $"{cost.ConnectionsOpened} opened and {cost.ConnectionsClosed} closed meanwhile); CPU per poll: service " +
                        $"{cost.ServiceCpuUs / (double)cost.Polls:F0} µs, PostgreSQL {cost.DatabaseCpuUs / (double)cost.Polls:F0} µs");
                    LogStatements(cost.Statements.Take(4));
                }
            }

            // ---- write side: lease + complete, the two stores in alternating slices ---------------------
            if (options.WriteSide && Selected("tasks"))
            {
                Log("");
                Log($"== write side: 8 workers lease one task and complete it with one row, while a feeder keeps a license's queue stocked; " +
                    $"the stores in alternating slices, each slice on a license of its own ({WritesLicense}_N: leases a slice leaves behind " +
                    "hold their license's concurrency slots until they expire)");
                await reference.ResetStatementsAsync();
                for (var s = 0; s < options.WriteSlices; s++)
                {
                    foreach (var store in s % 2 == 0 ? new[] { postgres, inMemory } : [inMemory, postgres])
                    {
                        Log($"  {store.Name}, {WritesLicense}_{s}:");
                        var slice = await WriteSide.TaskThroughputAsync(store.Api, store.Server, _sliceWritesKeys[s], _workerKey, workers: 8,
                            seconds: options.SliceSeconds, slices: 1, TimeSpan.FromSeconds(options.WarmupSeconds), Log, cancellationToken);
                        figures.Tasks.Add((store.Name, slice[0]));
                        await store.Server.WaitQuietAsync(TimeSpan.FromSeconds(10));
                    }
                }
                await PhaseStatementsAsync(figures, reference, "tasks");
            }

            memory.EnsureRunning();
            onPostgres.EnsureRunning();
            return BuildReport(started, machine, results, stores, [], figures);
        }

        /// <summary>Records (and logs) the statements that took the most time in the store's database since the last reset.</summary>
        private async Task PhaseStatementsAsync(PostgresFigures figures, PostgresReference reference, string phase)
        {
            var statements = await reference.StatementsAsync(5);
            figures.Phases.Add((phase, statements));
            Log($"   PostgreSQL, statements that took the most time ({phase}):");
            LogStatements(statements.Take(3));
        }

        private void LogStatements(IEnumerable<Statement> statements)
        {
            foreach (var st in statements)
            {
                Log($"     {st.Calls,9:N0} × {st.MeanExecMs,8:F3} ms (planned {st.Plans:N0} times, {st.MeanPlanMs:F3} ms per call) = " +
                    $"{st.TotalMs / 1000,7:F2} s  {Shorten(st.Query, 90)}");
            }
        }

        /// <summary>The JSON after <c>"data":</c> (the rows), or the whole body when it has none.</summary>
        private static ReadOnlySpan<byte> Data(byte[] body)
        {
            var at = body.AsSpan().IndexOf("\"data\":"u8);
            return at < 0 ? body : body.AsSpan(at);
        }

        private static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

        /// <summary>The running query (leased, never finished), the mid result and the big result, through the worker protocol.</summary>
        private async Task<Store> LoadAsync(ApiClient api, Server server, string name, CancellationToken cancellationToken)
        {
            await api.SubmitAsync(_clientKey, Running, ["{\"part\":0}"], cancellationToken);
            var runningLease = await api.LeaseOneAsync(_workerKey, "bench-holder", 600, 5, cancellationToken)
                ?? throw new BenchException("could not lease the RUNNING schedule's task");

            var mid = await WriteSide.IngestAsync(api, server, _clientKey, _workerKey, Mid, parts: 4, rowsPerPart: options.MidRows / 4,
                batchRows: 5_000, workers: 4, cancellationToken);
            Log($"  {Mid}: {mid.Rows:N0} rows in {mid.Elapsed.TotalSeconds:F1} s");

            var bigParts = (int)Math.Clamp(options.BigRows / 100_000, 1, 10_000);
            if (options.BigRows % bigParts != 0)
            {
                throw new BenchException("--big-rows must be a multiple of 100,000 (or less than it)");
            }
            var rssBefore = server.ResidentBytes();
            var big = await WriteSide.IngestAsync(api, server, _clientKey, _workerKey, Big, bigParts, (int)(options.BigRows / bigParts),
                batchRows: 50_000, workers: 8, cancellationToken);
            GC.Collect();
            var rssAfter = server.ResidentBytes();
            Log($"  {Big}: {big.Rows:N0} rows of {ApiClient.RowLength} B in {big.Elapsed.TotalSeconds:F1} s = {big.RowsPerSecond:N0} rows/s " +
                $"(8 workers, 50,000-row batches; server CPU {big.ServerCpuUs / (double)big.Rows:F2} µs per row); " +
                $"server RSS {rssBefore / 1048576.0:N0} → {rssAfter / 1048576.0:N0} MiB");
            return new Store(name, server, api, runningLease, mid, big, rssBefore, rssAfter);
        }

        /// <summary>The status scenarios, each with its target against the baseline and its target for PostgreSQL against in-memory.</summary>
        private (List<Definition> Definitions, string FirstPagePath, long DeepStart) Definitions()
        {
            var jwt = Jwt.CreateHs256(_jwtKey, JwtIssuer, JwtAudience, License, TimeSpan.FromHours(3));
            var status = "/enterprise/v2/query/status";
            var deepStart = Math.Min(options.BigRows, OffsetMax) - 100;
            var deepNote = options.BigRows > OffsetMax
                ? $" (the deepest page the API addresses: offsets stop at {OffsetMax:N0})"
                : "";
            var keyHeader = Array.Empty<string>();
            string[] jwtHeader = [$"Authorization: Bearer {jwt}"];

            List<Definition> definitions =
            [
                new("running-apikey", "RUNNING status (no rows), api_key parameter",
                    $"{status}?schedule_id={Running}&api_key={_clientKey}", keyHeader,
                    "req/s ≥ 0.75, CPU/req ≤ 1.45", r => r.Rps >= 0.75 && r.Cpu <= 1.45,
                    "req/s ≥ 0.50× in-memory", r => r.Rps >= 0.50),
                new("running-jwt", "RUNNING status (no rows), Authorization: Bearer <JWT, HS256>",
                    $"{status}?schedule_id={Running}", jwtHeader,
                    "req/s ≥ 0.70", r => r.Rps >= 0.70,
                    "—", null),
                new("page-100", $"SUCCESS, 100-row page of a {options.MidRows:N0}-row result",
                    $"{status}?schedule_id={Mid}&offset_start=5000&offset_end=5100&api_key={_clientKey}", keyHeader,
                    "—", null,
                    "—", null),
                new("page-10k", $"SUCCESS, 10,000-row page of a {options.MidRows:N0}-row result",
                    $"{status}?schedule_id={Mid}&offset_start=0&offset_end=10000&api_key={_clientKey}", keyHeader,
                    "req/s ≥ 0.80", r => r.Rps >= 0.80,
                    "req/s ≥ 0.60× in-memory", r => r.Rps >= 0.60),
                new("page-big-last", $"SUCCESS, 100-row page [{deepStart:N0}, {deepStart + 100:N0}) of a {options.BigRows:N0}-row result{deepNote}",
                    $"{status}?schedule_id={Big}&offset_start={deepStart}&offset_end={deepStart + 100}&api_key={_clientKey}", keyHeader,
                    "—", null,
                    "—", null),
            ];
            var firstPagePath = $"{status}?schedule_id={Big}&offset_start=0&offset_end=100&api_key={_clientKey}";
            return (definitions, firstPagePath, deepStart);
        }

        private async Task<List<ScenarioResult>> RunScenariosAsync(
            List<Scenario> scenarios, List<Store> stores, Dictionary<string, int> bodies, bool warmBothSides, CancellationToken cancellationToken,
            Func<Scenario, Task>? before = null, Func<Scenario, Task>? after = null)
        {
            // Tiered JIT and dynamic PGO take many seconds of load to settle on a busy machine: load every QueryStatus
            // path once before any scenario, so that no scenario's first slice measures a half-compiled server.
            Log("");
            Log($"warming up QueryStatus: {options.WarmupSeconds} s of load on each scenario's URL ...");
            foreach (var scenario in scenarios)
            {
                foreach (var side in warmBothSides ? new[] { scenario.A, scenario.B } : [scenario.A])
                {
                    Check(scenario, side, await Wrk.RunAsync("warm-up", side.Server, side.Url, side.Headers,
                        options.WarmupSeconds, options.Connections));
                    await SettleAsync(side);
                }
            }

            var results = new List<ScenarioResult>();
            foreach (var scenario in scenarios)
            {
                // Keep the RUNNING schedule's lease alive (600 s at most per heartbeat).
                foreach (var store in stores)
                {
                    (await store.Api.PostAsync($"/enterprise/v2/tasks/{store.Running.TaskId}/heartbeat", _workerKey,
                        $"{{\"lease_token\":\"{store.Running.LeaseToken}\",\"lease_seconds\":600}}", cancellationToken)).Dispose();
                }
                if (before is not null)
                {
                    await before(scenario);
                }
                results.Add(await RunScenarioAsync(scenario, bodies[scenario.Name], cancellationToken));
                if (after is not null)
                {
                    await after(scenario);
                }
            }
            return results;
        }

        /// <summary>
        /// Ingest through the API into the PostgreSQL store (8 workers, 50,000-row batches of 86-byte rows) against one client's
        /// binary COPY FROM STDIN of the same rows into a one-column bytea table of the same server, in alternating pairs;
        /// the in-memory store's ingest of the same rows beside them for context. A checkpoint before each.
        /// </summary>
        private async Task<PairedThroughput> IngestAgainstCopyAsync(Store inMemory, Store postgres, PostgresReference reference,
            PostgresCluster cluster, CancellationToken cancellationToken)
        {
            var rows = options.IngestRows;
            Log("");
            Log($"== ingest-vs-copy: {rows:N0} rows of {ApiClient.RowLength} B through the API (8 workers, 50,000-row batches, {rows / 100_000} sub-queries) " +
                $"into the {OnPostgres} store (A) against COPY {PostgresReference.Table} (row bytea) FROM STDIN (FORMAT BINARY), one client (B); " +
                "in-memory store for context; a CHECKPOINT before each");

            // Rounds of each side first, not counted, as every other scenario is warmed up before its slices: the first COPY
            // of a run went at about half the rate of the later ones (0.87-1.26 against 1.6-2.2 M rows/s), and the service
            // compiles its ingest path for several rounds: a round makes only 10-20 calls of each kind (leases,
            // batches, completes), and the runtime recompiles a method at tier 1 only after 30 calls at tier 0 and 30 more
            // instrumented. After one warm-up round, the service's tiered-compilation thread took 10-44% of its CPU in each
            // of the next ten rounds (bench/RESULTS.md, thirteenth session), so the first measured pairs measured the JIT.
            // Each service ingests until a round costs its JIT less than 3% of its CPU (at most MaxWarmUpRounds): the share
            // settles at 1-3% of a round, so a 2% bar ran all twelve rounds (bench/RESULTS.md).
            await cluster.CheckpointAsync();
            _lastWarmUpIngestId = await WarmUpIngestAsync(postgres, rows, cancellationToken);
            await WarmUpIngestAsync(inMemory, rows, cancellationToken);
            await reference.CopyInAsync(rows, cancellationToken);
            Log("   (warm-up rounds done, not counted; one COPY too)");
            Log($"   {"pair",-5} {"what",-30} {"rows/s",12} {"seconds",8} {"CPU µs/row",11} {"of which PG",11} {"WAL B/row",9} {"JIT",5}");

            var pairs = new List<(Throughput, Throughput)>();
            var context = new List<Throughput>();
            for (var p = 0; p < options.Pairs; p++)
            {
                Throughput? api = null, copy = null;
                var steps = new List<Func<Task<Throughput>>>
                {
                    async () =>
                    {
                        await cluster.CheckpointAsync();
                        api = Throughput.Of(await WriteSide.IngestAsync(postgres.Api, postgres.Server, _clientKey, _workerKey, IngestId(p),
                            (int)(rows / 100_000), 100_000, batchRows: 50_000, workers: 8, cancellationToken), $"API into {OnPostgres}");
                        return api;
                    },
                    async () => copy = await reference.CopyInAsync(rows, cancellationToken),
                };
                if (p % 2 == 1)
                {
                    steps.Reverse();
                }
                steps.Add(async () => Throughput.Of(await WriteSide.IngestAsync(inMemory.Api, inMemory.Server, _clientKey, _workerKey, IngestId(p),
                    (int)(rows / 100_000), 100_000, batchRows: 50_000, workers: 8, cancellationToken), $"API into {InMemory}"));
                foreach (var step in steps)
                {
                    var walBefore = await cluster.WalPositionAsync();
                    var t = await step();
                    var wal = await cluster.WalPositionAsync() - walBefore;
                    Log($"   {p + 1,-5} {t.Label,-30} {t.RowsPerSecond,12:N0} {t.Elapsed.TotalSeconds,8:F2} {t.CpuUsPerRow,11:F2} {t.DatabaseCpuUsPerRow,11:F2} {(double)wal / t.Rows,9:F1} {(ReferenceEquals(t, copy) ? "" : t.JitShare.ToString("P0", CultureInfo.InvariantCulture)),5}");
                    if (!ReferenceEquals(t, api) && !ReferenceEquals(t, copy))
                    {
                        context.Add(t);
                    }
                }
                pairs.Add((api!, copy!));
            }
            var result = new PairedThroughput("ingest-vs-copy", $"ingest of {rows:N0} rows of {ApiClient.RowLength} B", pairs, 0.5, context);
            Log($"   ratios A/B: {string.Join(" ", pairs.Select(x => (x.Item1.RowsPerSecond / x.Item2.RowsPerSecond).ToString("F2")))}; " +
                $"median {result.Ratio:F2} (target ≥ 0.50)  → {(result.Met ? "PASS" : "MISS")}");
            return result;
        }

        private static string IngestId(int pair) => $"bench_ingest_{pair}";

        private const int MaxWarmUpRounds = 16;

        /// <summary>The result the last warm-up round of ingest-vs-copy wrote; readback-vs-copy reads it as its own warm-up.</summary>
        private string _lastWarmUpIngestId = "";

        /// <summary>
        /// Ingest rounds into <paramref name="store"/> until one costs the service's tiered compilation less than 3% of its
        /// CPU, or <see cref="MaxWarmUpRounds"/> have run; returns the last round's query id.
        /// </summary>
        private async Task<string> WarmUpIngestAsync(Store store, long rows, CancellationToken cancellationToken)
        {
            for (var round = 1; ; round++)
            {
                var id = $"bench_ingest_warmup_{round}";
                var w = await WriteSide.IngestAsync(store.Api, store.Server, _clientKey, _workerKey, id,
                    (int)(rows / 100_000), 100_000, batchRows: 50_000, workers: 8, cancellationToken);
                Log($"   warm-up {round,-2} API into {store.Name,-19} {w.RowsPerSecond,12:N0} rows/s, JIT {w.JitShare:P0} of the service's CPU");
                if (w.JitShare < 0.03 || round == MaxWarmUpRounds)
                {
                    return id;
                }
            }
        }

        /// <summary>
        /// An ingested result read whole, page after page of 10,000 rows by one client, from the service on PostgreSQL
        /// (A) against one client's COPY (SELECT row FROM copy_rows) TO STDOUT of the same rows (B), in alternating pairs;
        /// for context the same read from the in-memory store, and COPY of the store's own chunks of that result. Each
        /// pair reads the result its own ingest pair wrote, so that every page is read once: a page read again may come
        /// from the service's page cache (Store:Postgres:PageCacheMegabytes), and this measures what the database sends.
        /// </summary>
        private async Task<PairedThroughput> ReadBackAgainstCopyAsync(Store inMemory, Store postgres, PostgresReference reference,
            CancellationToken cancellationToken)
        {
            var rows = options.IngestRows;
            Log("");
            Log($"== readback-vs-copy: {IngestId(0)} to {IngestId(options.Pairs - 1)} ({rows:N0} rows each, one per pair) read page by page ({PageMax:N0} rows a page, one client) from the {OnPostgres} store (A) " +
                $"against COPY (SELECT row FROM {PostgresReference.Table}) TO STDOUT (FORMAT BINARY), one client (B)");
            Log($"   {"pair",-5} {"what",-40} {"rows/s",12} {"seconds",8} {"CPU µs/row",11} {"of which PG",11}");
            async Task<Throughput> Read(Store store, string scheduleId)
            {
                var cpuBefore = store.Server.CpuSplit();
                var clock = Stopwatch.StartNew();
                var (read, _) = await store.Api.ReadWholeResultAsync(_clientKey, scheduleId, PageMax, cancellationToken);
                clock.Stop();
                var cpuAfter = store.Server.CpuSplit();
                if (read != rows)
                {
                    throw new BenchException($"read {read:N0} rows of {scheduleId} from the {store.Name} store, {rows:N0} expected");
                }
                return new Throughput($"API pages from {store.Name}", read, clock.Elapsed,
                    cpuAfter.Own + cpuAfter.Also - cpuBefore.Own - cpuBefore.Also, cpuAfter.Also - cpuBefore.Also);
            }

            // Both sides read once first, not counted (see the ingest's warm-up): the warm-up ingest's result, and the COPY table.
            var (warmRows, _) = await postgres.Api.ReadWholeResultAsync(_clientKey, _lastWarmUpIngestId, PageMax, cancellationToken);
            if (warmRows != rows)
            {
                throw new BenchException($"read {warmRows:N0} rows of {_lastWarmUpIngestId} from the {postgres.Name} store, {rows:N0} expected");
            }
            await reference.CopyOutAsync(rows, cancellationToken);
            Log("   (one read of each side done first as a warm-up, not counted)");

            var pairs = new List<(Throughput, Throughput)>();
            var context = new List<Throughput>();
            for (var p = 0; p < options.Pairs; p++)
            {
                Throughput? api = null, copy = null;
                var scheduleId = IngestId(p);
                var steps = new List<Func<Task<Throughput>>>
                {
                    async () => api = await Read(postgres, scheduleId),
                    async () => copy = await reference.CopyOutAsync(rows, cancellationToken),
                };
                if (p % 2 == 1)
                {
                    steps.Reverse();
                }
                steps.Add(async () => await Read(inMemory, scheduleId));
                steps.Add(async () => await reference.CopyOutStoredChunksAsync(License, scheduleId, rows, cancellationToken));
                foreach (var step in steps)
                {
                    var t = await step();
                    Log($"   {p + 1,-5} {t.Label,-40} {t.RowsPerSecond,12:N0} {t.Elapsed.TotalSeconds,8:F2} {t.CpuUsPerRow,11:F2} {t.DatabaseCpuUsPerRow,11:F2}");
                    if (!ReferenceEquals(t, api) && !ReferenceEquals(t, copy))
                    {
                        context.Add(t);
                    }
                }
                pairs.Add((api!, copy!));
            }
            var result = new PairedThroughput("readback-vs-copy", $"reading a whole {rows:N0}-row result", pairs, 0.5, context);
            Log($"   ratios A/B: {string.Join(" ", pairs.Select(x => (x.Item1.RowsPerSecond / x.Item2.RowsPerSecond).ToString("F2")))}; " +
                $"median {result.Ratio:F2} (target ≥ 0.50)  → {(result.Met ? "PASS" : "MISS")}");
            return result;
        }

        private async Task<Server> StartQueryStatusAsync(string apiDll, string name, Dictionary<string, string> extra)
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
                ["Scheduler__MaxRowsPerRun"] = Math.Max(1_000_000, Math.Max(options.BigRows, options.IngestRows)).ToString(CultureInfo.InvariantCulture),
            };
            if (options.Postgres)
            {
                // The alternating write-side slices: a license each (see RunPostgresAsync).
                _sliceWritesKeys = _sliceWritesKeys.Length > 0 ? _sliceWritesKeys : [.. Enumerable.Range(0, options.WriteSlices).Select(_ => RandomKey())];
                for (var s = 0; s < _sliceWritesKeys.Length; s++)
                {
                    env[$"Auth__ApiKeys__{3 + s}__KeyHash"] = Sha256(_sliceWritesKeys[s]);
                    env[$"Auth__ApiKeys__{3 + s}__LicenseId"] = $"{WritesLicense}_{s}";
                    env[$"Auth__ApiKeys__{3 + s}__Name"] = $"bench-writes-{s}";
                }
            }
            foreach (var (key, value) in extra)
            {
                env[key] = value;
            }
            foreach (var (key, value) in options.QueryStatusSettings)
            {
                env[key] = value;
            }
            var qs = await Server.StartAsync(name, apiDll, env, [], workDir);
            servers.Add(qs);
            var store = extra.ContainsKey("Store__Provider") ? "; store: PostgreSQL (Store__Provider=Postgres, migrations at start-up)" : "";
            Log($"{name} pid {qs.Pid} on {qs.BaseUrl} (Production, request logs to /dev/null){store}" +
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
                await SettleAsync(side);
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
                    await SettleAsync(side);
                    measured[side] = slice;
                    slices.Add((side, slice));
                    Log($"   {p + 1,-5} {side.Name,-14} {slice.RequestsPerSecond,10:F0} {slice.P50Ms,8:F2} {slice.P99Ms,8:F2} {slice.ServerCpuUsPerRequest,11:F1}" +
                        (side.Server.AlsoCount is null ? "" : $" (PostgreSQL {slice.DatabaseCpuUsPerRequest:F1})") +
                        $"  JIT {slice.JitShare:P0}" +
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

        /// <summary>
        /// With --store postgres, after each wrk run: wait until the server (and its database) is quiet. When wrk stops, a
        /// slow server still has up to 64 requests in hand (a second of 10,000-row pages on PostgreSQL); that work must not
        /// land in the next slice, which may be the other store's. Without --store, nothing (as before).
        /// </summary>
        private async Task SettleAsync(Side side)
        {
            if (options.Postgres)
            {
                await side.Server.WaitQuietAsync(TimeSpan.FromSeconds(10));
            }
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

        /// <summary>One line of the targets of --store postgres.</summary>
        private sealed record TargetLine(string Figure, string A, string B, string Ratio, string Target, bool Met);

        private static List<TargetLine> PostgresTargets(List<ScenarioResult> results, PostgresFigures figures)
        {
            var lines = new List<TargetLine>();
            foreach (var r in results.Where(r => r.Met is not null))
            {
                var (figure, unit) = r.Scenario.Name switch
                {
                    "running-apikey" => ("status poll, RUNNING query, API key: req/s, PostgreSQL (A) / in-memory (B)", "req/s"),
                    "page-10k" => ("10,000-row page: req/s, PostgreSQL (A) / in-memory (B)", "req/s"),
                    "page-big-last-vs-first" => ("deepest page (A) / first page (B) on PostgreSQL: time per request", "req/s"),
                    _ => (r.Scenario.Name, "req/s"),
                };
                lines.Add(new TargetLine(figure, $"{MedianRps(r, r.Scenario.A):F0} {unit}", $"{MedianRps(r, r.Scenario.B):F0} {unit}",
                    r.Scenario.TimeRatio ? $"{1 / r.Median.Rps:F2} (time)" : $"{r.Median.Rps:F2}", r.Scenario.TargetText, r.Met!.Value));
            }
            foreach (var (t, label) in new[] { (figures.Ingest, "ingest through the API, 8 workers (A) / COPY FROM STDIN, one client (B): rows/s"),
                                                (figures.ReadBack, "whole result page by page through the API (A) / COPY (SELECT …) TO STDOUT (B): rows/s") })
            {
                if (t is not null)
                {
                    lines.Add(new TargetLine($"{label}, {t.What}", $"{t.MedianA:N0} rows/s", $"{t.MedianB:N0} rows/s", $"{t.Ratio:F2}",
                        $"≥ {t.Target:F2}", t.Met));
                }
            }
            if (figures.PollCosts.FirstOrDefault(c => c.Name == "running-apikey") is { } poll)
            {
                lines.Add(new TargetLine("database round trips per status poll (RUNNING, API key)", $"{poll.RoundTripsPerPoll:F3}",
                    $"({poll.StatementsPerPoll:F3} statements)", "", "≤ 1", poll.RoundTripsPerPoll <= 1.0));
            }
            return lines;
        }

        private Report BuildReport(DateTimeOffset started, string machine, List<ScenarioResult> results, List<Store> stores,
            List<TaskSlice> taskSlices, PostgresFigures? figures)
        {
            var elapsed = DateTimeOffset.UtcNow - started;
            var rowBytes = ApiClient.RowLength;
            var (aName, bName) = figures is null ? ("QueryStatus", "baseline") : ("PostgreSQL", "in-memory");
            var text = new StringBuilder();
            text.AppendLine(figures is null
                ? "Summary (medians of the per-pair ratios; A = QueryStatus, B = the baseline unless said otherwise)"
                : "Summary (medians of the per-pair ratios; A = the service on PostgreSQL, B = the service on the in-memory store unless said otherwise; " +
                  "A's CPU includes its PostgreSQL's)");
            text.AppendLine($"{"scenario",-24} {"body B",9} {"A req/s",9} {"B req/s",9} {"req/s A/B",9} {"CPU/req A/B",11} {"p50 A/B",8} {"p99 A/B",8}  {"target",-32} verdict");
            foreach (var r in results)
            {
                text.AppendLine($"{r.Scenario.Name,-24} {r.BodyBytes,9:N0} {MedianRps(r, r.Scenario.A),9:F0} {MedianRps(r, r.Scenario.B),9:F0} " +
                    $"{r.Median.Rps,9:F2} {r.Median.Cpu,11:F2} {r.Median.P50,8:F2} {r.Median.P99,8:F2}  {r.Scenario.TargetText,-32} {r.Verdict}" +
                    (r.Scenario.TimeRatio ? $" (time/req {1 / r.Median.Rps:F2})" : ""));
            }
            foreach (var store in stores)
            {
                var big = store.Big;
                text.AppendLine($"ingest{(figures is null ? "" : $" ({store.Name})")}: {big.Rows:N0} rows of {rowBytes} B in {big.Elapsed.TotalSeconds:F1} s = {big.RowsPerSecond:N0} rows/s " +
                    $"(server CPU {big.ServerCpuUs / (double)big.Rows:F2} µs/row; server RSS {store.RssBefore / 1048576.0:N0} → {store.RssAfter / 1048576.0:N0} MiB)");
            }
            if (taskSlices.Count > 0)
            {
                text.AppendLine($"tasks: {Median(taskSlices.Select(t => t.TasksPerSecond)):F0} tasks/s leased+completed by 8 workers (median of {taskSlices.Count}); " +
                    $"server CPU {Median(taskSlices.Select(t => t.ServerCpuUsPerTask)):F0} µs per task");
            }
            List<TargetLine> targets = [];
            if (figures is not null)
            {
                foreach (var group in figures.Tasks.GroupBy(t => t.Store))
                {
                    text.AppendLine($"tasks ({group.Key}): {Median(group.Select(t => t.Slice.TasksPerSecond)):F0} tasks/s leased+completed by 8 workers " +
                        $"(median of {group.Count()}); server CPU {Median(group.Select(t => t.Slice.ServerCpuUsPerTask)):F0} µs per task");
                }
                targets = PostgresTargets(results, figures);
                text.AppendLine();
                text.AppendLine("Targets (#12):");
                text.AppendLine($"{"figure",-100} {"A",-16} {"B",-22} {"ratio",-11} {"target",-26} verdict");
                foreach (var t in targets)
                {
                    text.AppendLine($"{t.Figure,-100} {t.A,-16} {t.B,-22} {t.Ratio,-11} {t.Target,-26} {(t.Met ? "PASS" : "MISS")}");
                }
                text.AppendLine($"PostgreSQL: {string.Join(", ", figures.Settings.Select(s => $"{s.Name}={s.Setting}"))}");
            }
            text.Append($"total time {elapsed.TotalMinutes:F1} min");

            var md = new StringBuilder();
            md.AppendLine($"- date: {started:yyyy-MM-dd HH:mm} UTC, run took {elapsed.TotalMinutes:F1} min");
            md.AppendLine($"- machine: {machine.Replace("\n", "; ")}");
            md.AppendLine($"- runtime environment of the image (the Dockerfile's DOTNET_ lines), on every server: {ImageEnvironment.Describe()}");
            md.AppendLine($"- command: `bench/run.sh {options.CommandLine}`".Replace(" `", " `").TrimEnd());
            md.AppendLine($"- load: wrk -t2 -c{options.Connections} --latency, {options.SliceSeconds} s slices, {options.Pairs} pair(s) per scenario " +
                "(A B, B A, …), after a warm-up slice of each side; server CPU = utime+stime from /proc/<pid>/stat around each slice" +
                (figures is null ? "" : " (for the service on PostgreSQL, plus the whole PostgreSQL server's: postmaster, backends, ended backends)"));
            if (figures is not null)
            {
                md.AppendLine($"- PostgreSQL: a cluster made for the run (initdb in {figures.DataDirectory}, removed afterwards), 127.0.0.1 only; " +
                    $"command-line settings {string.Join(", ", figures.CommandLineSettings.Select(s => $"`{s}`"))}; everything else PostgreSQL's default");
                md.AppendLine();
                md.AppendLine("Targets (#12):");
                md.AppendLine();
                md.AppendLine("| figure | A | B | ratio A/B | target | verdict |");
                md.AppendLine("|---|---:|---:|---:|---|---|");
                foreach (var t in targets)
                {
                    md.AppendLine($"| {t.Figure} | {t.A} | {t.B} | {t.Ratio} | {t.Target} | {(t.Met ? "PASS" : "**MISS**")} |");
                }
            }
            md.AppendLine();
            md.AppendLine($"| scenario | body (B) | {aName} req/s | {bName} req/s | req/s ratio | CPU/req ratio | p50 ratio | p99 ratio | target | verdict |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
            foreach (var r in results)
            {
                md.AppendLine($"| {r.Scenario.Name} | {r.BodyBytes:N0} | {MedianRps(r, r.Scenario.A):F0} | {MedianRps(r, r.Scenario.B):F0} | " +
                    $"{r.Median.Rps:F2} | {r.Median.Cpu:F2} | {r.Median.P50:F2} | {r.Median.P99:F2} | {r.Scenario.TargetText} | {r.Verdict}" +
                    (r.Scenario.TimeRatio ? $" (time/req {1 / r.Median.Rps:F2})" : "") + " |");
            }
            md.AppendLine();
            foreach (var store in stores)
            {
                var big = store.Big;
                md.AppendLine($"Write side ({(figures is null ? "QueryStatus alone" : $"the service on the {store.Name} store")}): " +
                    $"ingest of {big.Rows:N0} rows of {rowBytes} B by 8 workers in 50,000-row batches: " +
                    $"**{big.RowsPerSecond:N0} rows/s** ({big.Elapsed.TotalSeconds:F1} s; server CPU {big.ServerCpuUs / (double)big.Rows:F2} µs per row; " +
                    $"server RSS {store.RssBefore / 1048576.0:N0} → {store.RssAfter / 1048576.0:N0} MiB).");
            }
            if (taskSlices.Count > 0)
            {
                md.AppendLine($"Tasks leased and completed by 8 concurrent workers: **{Median(taskSlices.Select(t => t.TasksPerSecond)):F0} tasks/s** " +
                    $"(median of {taskSlices.Count} slices: {string.Join(", ", taskSlices.Select(t => t.TasksPerSecond.ToString("F0")))}; " +
                    $"server CPU {Median(taskSlices.Select(t => t.ServerCpuUsPerTask)):F0} µs per task, i.e. per lease + complete).");
            }
            if (figures is not null)
            {
                foreach (var group in figures.Tasks.GroupBy(t => t.Store))
                {
                    md.AppendLine($"Tasks leased and completed by 8 concurrent workers, {group.Key} store: **{Median(group.Select(t => t.Slice.TasksPerSecond)):F0} tasks/s** " +
                        $"(slices, alternating with the other store: {string.Join(", ", group.Select(t => t.Slice.TasksPerSecond.ToString("F0")))}; " +
                        $"server CPU {Median(group.Select(t => t.Slice.ServerCpuUsPerTask)):F0} µs per task).");
                }
                AppendPostgresDetails(md, figures);
            }
            md.AppendLine();
            md.AppendLine("Every slice:");
            md.AppendLine();
            md.AppendLine(figures is null
                ? "| scenario | pair | side | req/s | p50 ms | p99 ms | server CPU µs/req | socket errors |"
                : "| scenario | pair | side | req/s | p50 ms | p99 ms | server CPU µs/req | of which PostgreSQL | socket errors |");
            md.AppendLine(figures is null ? "|---|---:|---|---:|---:|---:|---:|---|" : "|---|---:|---|---:|---:|---:|---:|---:|---|");
            foreach (var r in results)
            {
                for (var i = 0; i < r.Slices.Count; i++)
                {
                    var (side, s) = r.Slices[i];
                    md.AppendLine($"| {r.Scenario.Name} | {(i / 2) + 1} | {side.Name} | {s.RequestsPerSecond:F0} | {s.P50Ms:F2} | {s.P99Ms:F2} | " +
                        $"{s.ServerCpuUsPerRequest:F1} | " + (figures is null ? "" : $"{s.DatabaseCpuUsPerRequest:F1} | ") +
                        $"{(IsClean(s.SocketErrors) ? "" : s.SocketErrors)} |");
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

        private static void AppendPostgresDetails(StringBuilder md, PostgresFigures figures)
        {
            foreach (var t in new[] { figures.Ingest, figures.ReadBack })
            {
                if (t is null)
                {
                    continue;
                }
                md.AppendLine();
                md.AppendLine($"`{t.Name}`, {t.What} (A against B in alternating order, then the context figures; CPU = the server's, " +
                    "for COPY the PostgreSQL server's alone):");
                md.AppendLine();
                md.AppendLine("| pair | what | rows/s | seconds | CPU µs/row | of which PostgreSQL |");
                md.AppendLine("|---:|---|---:|---:|---:|---:|");
                var perPair = t.Context.Count / t.Pairs.Count;
                for (var p = 0; p < t.Pairs.Count; p++)
                {
                    foreach (var x in new[] { t.Pairs[p].A, t.Pairs[p].B }.Concat(t.Context.Skip(p * perPair).Take(perPair)))
                    {
                        md.AppendLine($"| {p + 1} | {x.Label} | {x.RowsPerSecond:N0} | {x.Elapsed.TotalSeconds:F2} | {x.CpuUsPerRow:F2} | {x.DatabaseCpuUsPerRow:F2} |");
                    }
                }
                md.AppendLine();
                md.AppendLine($"Ratio A/B per pair: {string.Join(", ", t.Pairs.Select(x => (x.A.RowsPerSecond / x.B.RowsPerSecond).ToString("F2")))}; " +
                    $"median **{t.Ratio:F2}** (target ≥ {t.Target:F2}: {(t.Met ? "PASS" : "MISS")}).");
            }
            if (figures.PollCosts.Count > 0)
            {
                md.AppendLine();
                md.AppendLine("What a status request costs in the database (8 concurrent loops of GETs to the service on PostgreSQL; statements in its " +
                    "database from pg_stat_statements, reset first; round trips = TCP data segments the service's connections sent to PostgreSQL, `ss -ti` " +
                    "every 100 ms, each connection's last reading kept):");
                md.AppendLine();
                md.AppendLine("| request | polls | statements per poll | round trips per poll | segments back per poll | connections opened / closed meanwhile | service CPU µs/poll | PostgreSQL CPU µs/poll |");
                md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
                foreach (var c in figures.PollCosts)
                {
                    md.AppendLine($"| {c.Name} | {c.Polls:N0} | {c.StatementsPerPoll:F3} | {c.RoundTripsPerPoll:F3} | {(double)c.SegmentsFromServer / c.Polls:F3} | " +
                        $"{c.ConnectionsOpened} / {c.ConnectionsClosed} | {c.ServiceCpuUs / (double)c.Polls:F0} | {c.DatabaseCpuUs / (double)c.Polls:F0} |");
                }
                md.AppendLine();
                md.AppendLine("Statements executed during those polls (pg_stat_statements, planning time tracked for these polls only):");
                AppendStatements(md, figures.PollCosts.Select(c => (c.Name, c.Statements)));
            }
            if (figures.Phases.Count > 0)
            {
                md.AppendLine();
                md.AppendLine("Statements that took the most time in the store's database in each phase (pg_stat_statements, reset at the start " +
                    "of each; planning time not tracked there):");
                AppendStatements(md, figures.Phases);
            }
            md.AppendLine();
            md.AppendLine("PostgreSQL settings not at their built-in default, and the durability settings (pg_settings):");
            md.AppendLine();
            md.AppendLine("| setting | value | source |");
            md.AppendLine("|---|---|---|");
            foreach (var (name, setting, source) in figures.Settings)
            {
                md.AppendLine($"| {name} | {setting} | {source} |");
            }
        }

        private static void AppendStatements(StringBuilder md, IEnumerable<(string Phase, List<Statement> Statements)> phases)
        {
            md.AppendLine();
            md.AppendLine("| phase | calls | planned | plan ms per call | mean exec ms | total s | statement |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---|");
            foreach (var (phase, statements) in phases)
            {
                foreach (var st in statements.Take(5))
                {
                    md.AppendLine($"| {phase} | {st.Calls:N0} | {st.Plans:N0} | {st.MeanPlanMs:F3} | {st.MeanExecMs:F3} | {st.TotalMs / 1000:F2} | " +
                        $"`{Shorten(st.Query, 400).Replace("|", "\\|")}` |");
                }
            }
        }

        private static double MedianRps(ScenarioResult r, Side side) =>
            Median(r.Slices.Where(s => s.Side == side).Select(s => s.Slice.RequestsPerSecond));

        internal static double Median(IEnumerable<double> values)
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
