using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using QueryStatus.Api.Tests.Infrastructure;
using Xunit.Abstractions;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// The database stopped and started again under a running service (its own process, on a private PostgreSQL server, so
/// that no other test loses its database) while a client polls and a worker leases: during the outage every API request
/// answers promptly with a 503 <c>SERVICE_UNAVAILABLE</c> envelope and <c>Retry-After</c>, never a 500 or a hang; once the
/// database is back the service recovers by itself and nothing it acknowledged is lost.
/// </summary>
public sealed class DatabaseOutageTests(ITestOutputHelper output)
{
    /// <summary>How long any one request may take before the test counts it as hanging (the brief's "a few seconds").</summary>
    private static readonly TimeSpan RequestPatience = TimeSpan.FromSeconds(10);

    /// <summary>How long the test waits for the service to notice the outage, or the recovery (a condition, not a timing).</summary>
    private static readonly TimeSpan StatePatience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WhileTheDatabaseIsDownRequestsAnswer503WithRetryAfterAndOnceItIsBackNothingAcknowledgedIsLost()
    {
        await using var server = await PostgresServer.StartPrivateAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Store:Provider"] = "Postgres",
            ["ConnectionStrings:QueryStatus"] = await server.NewDatabaseAsync(),
        };
        await using var service = await ServiceProcess.StartAsync("service", settings);
        try
        {
            await OutageAndRecoveryAsync(server, service);
        }
        catch
        {
            output.WriteLine(service.LogTail(60));
            throw;
        }
    }

    private async Task OutageAndRecoveryAsync(PostgresServer server, ServiceProcess service)
    {
        var token = TestJwt.Create(TestData.NewLicenseId(), now: DateTimeOffset.UtcNow, lifetime: TimeSpan.FromHours(1));
        var client = service.Client(token, RequestPatience);
        var worker = new WorkerClient(service.Client(TestKeys.Worker.Key, RequestPatience));
        var anonymous = service.Client(timeout: RequestPatience);

        // Acknowledged before the outage: a query of two sub-queries, one of its tasks leased, its first batch staged.
        var scheduleId = TestData.NewScheduleId("outage");
        await client.SubmitAsync(scheduleId, [Sub("a"), Sub("b")]);
        var first = Assert.Single(await worker.LeaseAsync(maxTasks: 1, leaseSeconds: 600));
        Assert.Equal("a", first.Name());
        await worker.RowsOkAsync(first, 0, Row("a-0"));

        // A client polling and a worker leasing all along, outage included.
        using var background = new CancellationTokenSource();
        var traffic = new Traffic();
        var poller = traffic.LoopAsync("status poll", () => client.GetStatusAsync(scheduleId), background.Token);
        var leasedInBackground = new ConcurrentQueue<WorkerTask>();
        var leaser = traffic.LoopAsync("lease", async () =>
        {
            var response = await worker.PostLeaseAsync(maxTasks: 1, leaseSeconds: 600, waitSeconds: 0);
            if (response.IsSuccessStatusCode)
            {
                var body = Parse(await response.Content.ReadAsStringAsync());
                foreach (var task in body.GetProperty("tasks").EnumerateArray())
                {
                    leasedInBackground.Enqueue(WorkerTask.From(task));
                }
            }
            return response;
        }, background.Token);
        await UntilAsync(() => traffic.Answered("status poll") > 0 && traffic.Answered("lease") > 0, "the background traffic answered");

        await server.StopAsync();
        traffic.DatabaseDown = true;

        await ReadinessAsync(anonymous, HttpStatusCode.ServiceUnavailable);
        await AssertUnavailableAsync("readiness", anonymous.GetAsync("/readyz"));
        await AssertUnavailableAsync("status poll", client.GetStatusAsync(scheduleId));
        var refusedId = TestData.NewScheduleId("refused");
        await AssertUnavailableAsync("submit", client.PostSubmitAsync(SubmitBody(refusedId, [Sub("c")])));
        await AssertUnavailableAsync("stop", client.PostStopAsync(scheduleId));
        await AssertUnavailableAsync("lease", worker.PostLeaseAsync(maxTasks: 1, leaseSeconds: 60, waitSeconds: 0));
        await AssertUnavailableAsync("lease with a wait", worker.PostLeaseAsync(maxTasks: 1, leaseSeconds: 60, waitSeconds: 2));
        await AssertUnavailableAsync("heartbeat", worker.HeartbeatAsync(first, 600));
        await AssertUnavailableAsync("rows", worker.RowsAsync(first, 1, Row("a-1")));
        await AssertUnavailableAsync("complete", worker.CompleteAsync(first, [Row("a-2")]));
        await UntilAsync(() => traffic.AnsweredWhileDown("status poll") >= 3 && traffic.AnsweredWhileDown("lease") >= 3,
            "the background traffic answered during the outage");

        traffic.DatabaseDown = false;
        await server.StartAsync();
        await ReadinessAsync(anonymous, HttpStatusCode.OK);
        await background.CancelAsync();
        await Task.WhenAll(poller, leaser);

        output.WriteLine(traffic.Summary());
        Assert.True(traffic.Problems.IsEmpty,
            "Background requests answered outside 2xx / 503 with Retry-After:" + Environment.NewLine + string.Join(Environment.NewLine, traffic.Problems));

        // Recovered without a restart: the query acknowledged before the outage is there, its staged batch kept, and a
        // worker finishes it.
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());
        await worker.RowsOkAsync(first, 1, Row("a-1"));
        await worker.CompleteOkAsync(first, [Row("a-2")]);
        var second = leasedInBackground.TryDequeue(out var leased) ? leased : Assert.Single(await worker.LeaseAsync(maxTasks: 1));
        Assert.Equal("b", second.Name());
        Assert.Empty(leasedInBackground);
        await worker.CompleteOkAsync(second, [Row("b-0")]);

        var done = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", done.StatusCode());
        Assert.Equal([Row("a-0"), Row("a-1"), Row("a-2"), Row("b-0")], done.RawRows());

        // New work flows again, to a worker that was already waiting for it (the wake-ups reconnected).
        var waiting = new WorkerClient(service.Client(TestKeys.Worker.Key, TimeSpan.FromSeconds(60)), "waiting-worker")
            .LeaseAsync(maxTasks: 1, leaseSeconds: 60, waitSeconds: 20);
        using (var resubmitted = await client.PostSubmitAsync(SubmitBody(refusedId, [Sub("c")])))
        {
            // A write that got no 2xx may or may not have happened (here: it cannot have, the database was down).
            Assert.True(resubmitted.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.Conflict,
                $"Expected 202 (or 409), got {(int)resubmitted.StatusCode}: {await resubmitted.Content.ReadAsStringAsync()}");
        }
        var third = Assert.Single(await waiting);
        Assert.Equal((refusedId, "c"), (third.ScheduleId, third.Name()));
        await worker.CompleteOkAsync(third, [Row("c-0")]);
        Assert.Equal([Row("c-0")], (await client.StatusAsync(refusedId)).RawRows());
    }

    /// <summary>Asserts the call answered (within the client's timeout) a 503 SERVICE_UNAVAILABLE envelope with Retry-After.</summary>
    private static async Task AssertUnavailableAsync(string what, Task<HttpResponseMessage> call)
    {
        HttpResponseMessage response;
        try
        {
            response = await call;
        }
        catch (TaskCanceledException)
        {
            Assert.Fail($"{what}: no answer within {RequestPatience} while the database was down.");
            throw;
        }
        using (response)
        {
            await response.AssertEnvelopeAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
            Assert.True(response.Headers.RetryAfter?.Delta is { } delay && delay > TimeSpan.Zero,
                $"{what}: the 503 has no Retry-After in seconds (Retry-After: {response.Headers.RetryAfter}).");
        }
    }

    /// <summary>Polls <c>/readyz</c> until it answers <paramref name="expected"/>; every probe must answer within the client's timeout.</summary>
    private static async Task ReadinessAsync(HttpClient anonymous, HttpStatusCode expected)
    {
        using var patience = new CancellationTokenSource(StatePatience);
        var last = "";
        while (!patience.IsCancellationRequested)
        {
            using var response = await anonymous.GetAsync("/readyz", CancellationToken.None);
            if (response.StatusCode == expected)
            {
                return;
            }
            last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}";
            // A pause between probes, not a wait for anything: the loop ends on the answer.
            await Task.Delay(100, CancellationToken.None);
        }
        Assert.Fail($"/readyz did not answer {(int)expected} within {StatePatience}; last: {last}");
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var patience = new CancellationTokenSource(StatePatience);
        while (!condition())
        {
            if (patience.IsCancellationRequested)
            {
                Assert.Fail($"Gave up waiting: {what}.");
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>Background requests in loops, and what they answered: a 2xx, or a 503 envelope with Retry-After, or a problem.</summary>
    private sealed class Traffic
    {
        private readonly ConcurrentDictionary<(string What, bool Down), int> _answers = new();

        public ConcurrentQueue<string> Problems { get; } = new();

        /// <summary>Whether the database is stopped (set by the test around the outage).</summary>
        public volatile bool DatabaseDown;

        public int Answered(string what) => _answers.Where(a => a.Key.What == what).Sum(a => a.Value);

        public int AnsweredWhileDown(string what) => _answers.GetValueOrDefault((what, true));

        public string Summary() => "Background answers: " + string.Join(", ",
            _answers.OrderBy(a => a.Key.What, StringComparer.Ordinal).Select(a => $"{a.Key.What}{(a.Key.Down ? " (database down)" : "")}: {a.Value}"));

        public Task LoopAsync(string what, Func<Task<HttpResponseMessage>> call, CancellationToken stop) => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var down = DatabaseDown;
                try
                {
                    using var response = await call();
                    var problem = await ProblemAsync(response);
                    if (problem is not null)
                    {
                        Problems.Enqueue($"{what}{(down ? " (database down)" : "")}: {problem}");
                    }
                    _answers.AddOrUpdate((what, down), 1, (_, n) => n + 1);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Problems.Enqueue($"{what}{(down ? " (database down)" : "")}: no answer ({e.GetType().Name}: {e.Message})");
                }
                // The pace of a polling client.
                await Task.Delay(100, CancellationToken.None);
            }
        }, CancellationToken.None);

        private static async Task<string?> ProblemAsync(HttpResponseMessage response)
        {
            if (response.IsSuccessStatusCode)
            {
                return null;
            }
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                return $"{(int)response.StatusCode}: {body}";
            }
            try
            {
                using var json = JsonDocument.Parse(body);
                var code = json.RootElement.GetProperty("error").GetProperty("code").GetString();
                if (code != "SERVICE_UNAVAILABLE")
                {
                    return $"503 with error.code {code}: {body}";
                }
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return $"503 without the envelope: {body}";
            }
            return response.Headers.RetryAfter?.Delta is { } delay && delay > TimeSpan.Zero ? null : $"503 without Retry-After: {body}";
        }
    }
}
