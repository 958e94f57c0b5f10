using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using QueryStatus.Client;

namespace QueryStatus.Bench;

/// <summary>
/// Requests per finished query (#13): clients that poll every second (today's loop) against clients that long-poll,
/// on queries that take 10–60 s. One service, real workers in this process holding each task for its planned time,
/// and three client groups side by side on queries of the same durations:
/// <list type="bullet">
/// <item><c>poll-1s</c>: GET status every second until the query finished;</item>
/// <item><c>long-poll</c>: GET status with <c>wait_seconds=30</c> (no ETag: answers when the query finished or 30 s passed);</item>
/// <item><c>client-wait</c>: <see cref="QueryStatusClient.WaitAsync"/> without a progress reporter: long-polls for the finish;</item>
/// <item><c>client-progress</c>: the same with a progress reporter: long-polls with <c>If-None-Match</c>, so it also
/// wakes at every progress change (what a progress bar needs).</item>
/// </list>
/// Each group's queries have the same durations (one deterministic list, 10–60 s), so the groups differ only in how
/// they wait. Requests are counted at each client's handler.
/// </summary>
public static class LongPollBench
{
    private const string License = "lic_longpoll";
    private const int SubQueriesPerQuery = 3;

    public sealed record GroupResult(string Name, int Queries, double MeanRequests, int MaxRequests, int NotSucceeded);

    public sealed record Result(DateTimeOffset Started, int QueriesPerGroup, double MinSeconds, double MaxSeconds, TimeSpan Elapsed, IReadOnlyList<GroupResult> Groups)
    {
        public double Ratio(string group) =>
            Groups.Single(g => g.Name == "poll-1s").MeanRequests / Groups.Single(g => g.Name == group).MeanRequests;
    }

    /// <summary>The benchmark as <c>bench/run.sh --long-poll N</c> runs it: the Release build, figures and verdict.</summary>
    public static async Task<Report> RunReportAsync(int queriesPerGroup, string workDir, CancellationToken cancellationToken)
    {
        var apiDll = Path.Combine(Bench.RepoRoot(), "src/QueryStatus.Api/bin/Release/net10.0/QueryStatus.Api.dll");
        var result = await RunAsync(apiDll, workDir, queriesPerGroup, Console.WriteLine, cancellationToken);
        var markdown = Report(result);
        return new Report(markdown, markdown, result.Groups.All(g => g.NotSucceeded == 0));
    }

    public static async Task<Result> RunAsync(string apiDll, string workDir, int queriesPerGroup, Action<string> log, CancellationToken cancellationToken)
    {
        var clientKey = "qs_bench_lp_client_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        var workerKey = "qs_bench_lp_worker_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Auth__ApiKeys__0__KeyHash"] = Bench.Sha256(clientKey),
            ["Auth__ApiKeys__0__LicenseId"] = License,
            ["Auth__ApiKeys__0__Name"] = "bench-longpoll-client",
            ["Auth__ApiKeys__1__KeyHash"] = Bench.Sha256(workerKey),
            ["Auth__ApiKeys__1__Name"] = "bench-longpoll-worker",
            ["Auth__ApiKeys__1__Scopes__0"] = "worker",
            ["RateLimiting__PermitLimit"] = "100000000",
            ["RateLimiting__Workers__PermitLimit"] = "100000000",
            // Every task of every query runs at once: the queries' durations are the workers' hold times, not queueing.
            ["Scheduler__DefaultMaxConcurrentTasks"] = "100000",
        };
        using var server = await Server.StartAsync("QueryStatus-longpoll", apiDll, env, [], workDir);
        log($"QueryStatus pid {server.Pid} on {server.BaseUrl}: {queriesPerGroup} queries per group, {SubQueriesPerQuery} sub-queries each, 10–60 s");

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 10_000 }) { Timeout = TimeSpan.FromSeconds(90) };
        var api = new ApiClient(http, server.BaseUrl);
        var random = new Random(13);
        var durations = Enumerable.Range(0, queriesPerGroup).Select(_ => 10 + random.NextDouble() * 50).ToArray();
        var groups = new[] { "poll-1s", "long-poll", "client-wait", "client-progress" };

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasksTotal = groups.Length * queriesPerGroup * SubQueriesPerQuery;
        var workers = Enumerable.Range(0, tasksTotal).Select(_ => WorkAsync(api, workerKey, stop.Token)).ToArray();

        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var runs = new List<Task<(string Group, int Requests, string Status)>>();
        foreach (var group in groups)
        {
            for (var q = 0; q < queriesPerGroup; q++)
            {
                var seconds = durations[q];
                var holds = Enumerable.Range(0, SubQueriesPerQuery)
                    .Select(i => i == 0 ? seconds : seconds * (0.3 + 0.6 * random.NextDouble())).ToArray();
                var body = JsonSerializer.Serialize(new { subqueries = holds.Select(h => new { hold_ms = (int)(h * 1000) }) });
                using var submitted = await api.PostAsync("/enterprise/v2/query/submit", clientKey, body, cancellationToken);
                var scheduleId = submitted.RootElement.GetProperty("meta").GetProperty("schedule_id").GetString()!;
                runs.Add(group switch
                {
                    "poll-1s" => PollEverySecondAsync(server.BaseUrl, clientKey, scheduleId, cancellationToken),
                    "long-poll" => LongPollAsync(server.BaseUrl, clientKey, scheduleId, cancellationToken),
                    _ => ClientWaitAsync(group, server.BaseUrl, clientKey, scheduleId, cancellationToken),
                });
            }
        }

        var finished = await Task.WhenAll(runs);
        clock.Stop();
        await stop.CancelAsync();
        await Task.WhenAll(workers.Select(w => w.ContinueWith(_ => { }, TaskScheduler.Default)));
        server.EnsureRunning();

        var results = groups.Select(g =>
        {
            var mine = finished.Where(f => f.Group == g).ToList();
            return new GroupResult(g, mine.Count, mine.Average(f => f.Requests), mine.Max(f => f.Requests), mine.Count(f => f.Status != "SUCCESS"));
        }).ToList();
        return new Result(started, queriesPerGroup, durations.Min(), durations.Max(), clock.Elapsed, results);
    }

    /// <summary>A worker: leases one task at a time (waiting on the server), holds it for its planned time, completes it.</summary>
    private static async Task WorkAsync(ApiClient api, string workerKey, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var lease = await api.PostAsync("/enterprise/v2/tasks/lease", workerKey,
                    """{"worker_id":"bench-longpoll","max_tasks":1,"lease_seconds":120,"wait_seconds":10}""", cancellationToken);
                foreach (var task in lease.RootElement.GetProperty("tasks").EnumerateArray())
                {
                    var hold = task.GetProperty("payload").GetProperty("hold_ms").GetInt32();
                    await Task.Delay(hold, cancellationToken);
                    var id = task.GetProperty("task_id").GetString();
                    var token = task.GetProperty("lease_token").GetString();
                    using var _ = await api.PostAsync($"/enterprise/v2/tasks/{id}/complete", workerKey,
                        $$"""{"lease_token":"{{token}}","rows":[{"held_ms":{{hold}}}]}""", cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private static async Task<(string, int, string)> PollEverySecondAsync(string baseUrl, string key, string scheduleId, CancellationToken cancellationToken)
    {
        using var counting = Counting(key, out var http);
        var requests = 0;
        while (true)
        {
            requests++;
            var status = await StatusAsync(http, $"{baseUrl}/enterprise/v2/query/status?schedule_id={scheduleId}&offset_end=0", cancellationToken);
            if (QueryStatusCodes.IsFinished(status))
            {
                return ("poll-1s", requests, status);
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static async Task<(string, int, string)> LongPollAsync(string baseUrl, string key, string scheduleId, CancellationToken cancellationToken)
    {
        using var counting = Counting(key, out var http);
        var requests = 0;
        while (true)
        {
            requests++;
            var status = await StatusAsync(http, $"{baseUrl}/enterprise/v2/query/status?schedule_id={scheduleId}&offset_end=0&wait_seconds=30", cancellationToken);
            if (QueryStatusCodes.IsFinished(status))
            {
                return ("long-poll", requests, status);
            }
        }
    }

    private static async Task<(string, int, string)> ClientWaitAsync(
        string group, string baseUrl, string key, string scheduleId, CancellationToken cancellationToken)
    {
        var counter = new CountingHandler();
        var services = new ServiceCollection();
        services.AddQueryStatusClient(o => { o.BaseAddress = new Uri(baseUrl); o.ApiKey = key; })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler())
            .AddHttpMessageHandler(() => counter);
        await using var provider = services.BuildServiceProvider();
        var progress = group == "client-progress" ? new Progress<WaitProgress>() : null;
        var final = await provider.GetRequiredService<QueryStatusClient>().WaitAsync(scheduleId, progress, cancellationToken);
        return (group, counter.Requests, final.StatusCode);
    }

    private static async Task<string> StatusAsync(HttpClient http, string url, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(url, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new BenchException($"GET {url} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
        }
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("meta").GetProperty("status_code").GetString()!;
    }

    private static IDisposable Counting(string key, out HttpClient http)
    {
        http = new HttpClient { Timeout = TimeSpan.FromSeconds(90) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private sealed class CountingHandler : DelegatingHandler
    {
        private int _requests;
        public int Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            return base.SendAsync(request, cancellationToken);
        }
    }

    public static string Report(Result result)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Requests per finished query ({result.Started:yyyy-MM-dd HH:mm} UTC; {result.QueriesPerGroup} queries per group, " +
            $"{SubQueriesPerQuery} sub-queries each, {result.MinSeconds:F0}–{result.MaxSeconds:F0} s; all groups at once, {result.Elapsed.TotalSeconds:F0} s):");
        text.AppendLine();
        text.AppendLine("| client loop | queries | requests / query (mean) | max | not SUCCESS | poll-1s ÷ this |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var g in result.Groups)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {g.Name} | {g.Queries} | {g.MeanRequests:F1} | {g.MaxRequests} | {g.NotSucceeded} | {result.Ratio(g.Name):F1}× |");
        }
        text.AppendLine();
        var longPoll = result.Ratio("long-poll");
        text.AppendLine(CultureInfo.InvariantCulture, $"Target (#13): a long-poll loop makes at least 10× fewer requests than polling every second: {longPoll:F1}× — {(longPoll >= 10 ? "PASS" : "MISS")}.");
        return text.ToString();
    }
}
