using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Worker;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Worker;

/// <summary>
/// QueryStatus.Worker over time: heartbeats, lost leases, Retry-After, shutdown, credentials. Time is the service's
/// FakeTimeProvider, which the worker shares: tests move it, never sleep on it.
/// </summary>
public sealed class WorkerLifecycleTests
{
    private static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A handler that says when it started, then waits until its token is cancelled and says that too.</summary>
    private static (DelegateHandler Handler, TaskCompletionSource Started, TaskCompletionSource Cancelled) BlockedUntilCancelled()
    {
        var (started, cancelled) = (NewSignal(), NewSignal());
        return (new DelegateHandler(async (_, _, ct) =>
        {
            started.TrySetResult();
            using var registration = ct.Register(cancelled.SetResult);
            await Task.Delay(Timeout.Infinite, ct);
        }), started, cancelled);
    }

    private static Task Within(Task task, string what) =>
        task.WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(t => Assert.True(t.IsCompletedSuccessfully, $"Gave up waiting: {what}."), TaskScheduler.Default);

    [Fact]
    public async Task HeartbeatsKeepALongTaskLeasedLongAfterItsLeaseSeconds()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("long"));
        var (started, release) = (NewSignal(), NewSignal());
        var handler = new DelegateHandler(async (_, rows, ct) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(ct);
            await rows.AddRawAsync(Utf8(Row("done")), ct);
        });
        await using var worker = await WorkerHarness.StartAsync(factory, handler, o => (o.LeaseSeconds, o.MaxConcurrentTasks) = (30, 1));
        await Within(started.Task, "the task started");

        // A heartbeat every 10 s (a third of the lease): 9 of them carry the task through 90 s, three leases' worth.
        for (var beat = 1; beat <= 9; beat++)
        {
            factory.Time.Advance(TimeSpan.FromSeconds(10));
            await WorkerHarness.EventuallyAsync(() => worker.Calls.Count("heartbeat") == beat, $"heartbeat {beat}");
        }
        using (var rival = factory.CreateWorker("rival"))
        {
            Assert.Empty(await rival.LeaseAsync());
        }
        release.SetResult();

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");
        Assert.Equal(1, handler.Executions);
        Assert.All(worker.Calls.Of("heartbeat"), h => Assert.Equal(30, h.Json.GetProperty("lease_seconds").GetInt32()));
        Assert.Equal([Row("done")], (await client.StatusAsync(scheduleId)).RawRows());
    }

    [Fact]
    public async Task StoppingTheQueryCancelsItsRunningHandlerAtTheNextHeartbeatAndNothingMoreIsSent()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var (handler, started, cancelled) = BlockedUntilCancelled();
        await using var worker = await WorkerHarness.StartAsync(factory, handler, o => (o.LeaseSeconds, o.MaxConcurrentTasks) = (30, 1));
        await Within(started.Task, "the task started");

        await client.StopAsync(scheduleId);
        factory.Time.Advance(TimeSpan.FromSeconds(10));

        await Within(cancelled.Task, "the handler cancelled");
        await WorkerHarness.EventuallyAsync(() => worker.Logs.GetSnapshot().Any(r => r.Message.Contains("dropped it")), "the task dropped");
        Assert.Equal(1, worker.Calls.Count("heartbeat", HttpStatusCode.Conflict));
        Assert.Empty(worker.Calls.Of("fail"));
        Assert.Empty(worker.Calls.Of("complete"));
        Assert.Equal("STOPPED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task ARowsCallAnswered429IsRetriedAfterItsRetryAfter()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var limited = 0;
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (_, rows, ct) =>
        {
            await rows.AddRawAsync(Utf8(Row("a")), ct);
            await rows.AddRawAsync(Utf8(Row("b")), ct);
        }), o => (o.BatchRows, o.MaxConcurrentTasks) = (1, 1), intercept: request =>
        {
            if (!request.RequestUri!.AbsolutePath.EndsWith("/rows", StringComparison.Ordinal) || Interlocked.Exchange(ref limited, 1) == 1)
            {
                return null;
            }
            var answer = new HttpResponseMessage(HttpStatusCode.TooManyRequests)
            {
                Content = new StringContent("{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Too many requests.\"}}"),
            };
            answer.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(30));
            return answer;
        });

        await WorkerHarness.EventuallyAsync(
            () => worker.Logs.GetSnapshot().Any(r => r.Message.Contains("answered 429; retrying in 00:00:30")), "the worker waits 30 s");
        Assert.Equal(0, worker.Calls.Count("rows"));
        factory.Time.Advance(TimeSpan.FromSeconds(30));

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");
        var rows = worker.Calls.Of("rows");
        Assert.Equal((HttpStatusCode.TooManyRequests, 0L), (rows[0].Status, rows[0].Batch));
        Assert.Equal([0L, 1L], rows.Skip(1).Select(r => r.Batch));
        Assert.Equal(TimeSpan.FromSeconds(30), rows[1].SentAt - rows[0].SentAt);
        Assert.Equal([Row("a"), Row("b")], (await client.StatusAsync(scheduleId)).RawRows());
    }

    [Fact]
    public async Task ALeaseCallAnswered503IsRetriedAfterItsRetryAfter()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var unavailable = 0;
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler((_, rows, ct) => rows.AddRawAsync(Utf8(Row("a")), ct).AsTask()),
            intercept: request =>
            {
                if (!request.RequestUri!.AbsolutePath.EndsWith("/lease", StringComparison.Ordinal) || Interlocked.Exchange(ref unavailable, 1) == 1)
                {
                    return null;
                }
                var answer = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
                answer.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(5));
                return answer;
            });

        await WorkerHarness.EventuallyAsync(
            () => worker.Logs.GetSnapshot().Any(r => r.Message.Contains("lease call answered 503; retrying in 00:00:05")), "the worker waits 5 s");
        Assert.Equal(0, worker.Calls.Count("lease"));
        factory.Time.Advance(TimeSpan.FromSeconds(5));

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");
    }

    [Fact]
    public async Task ShutdownStopsLeasingAtOnceAndLetsTheRunningTaskFinish()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var first = await client.SubmitAsync(Sub("first"));
        var (started, release) = (NewSignal(), NewSignal());
        var handler = new DelegateHandler(async (task, rows, _) =>
        {
            started.TrySetResult();
            await release.Task;
            await rows.AddRawAsync(Utf8(Row("first")));
        });
        await using var worker = await WorkerHarness.StartAsync(factory, handler, o => o.MaxConcurrentTasks = 2);
        await Within(started.Task, "the first task started");
        await WorkerHarness.EventuallyAsync(() => worker.Calls.InFlight("lease") == 1, "the worker waits for more work");

        var stopping = worker.StopAsync();
        await WorkerHarness.EventuallyAsync(() => worker.Calls.InFlight("lease") == 0, "the waiting lease call ended");
        var second = await client.SubmitAsync(Sub("second"));
        Assert.False(stopping.IsCompleted, "The host waits for the running task.");
        release.SetResult();
        await Within(stopping, "the worker stopped");

        Assert.Equal([Row("first")], (await WorkerHarness.WaitForStatusAsync(client, first, "SUCCESS")).RawRows());
        var waiting = await client.StatusAsync(second);
        Assert.Equal(("QUEUED", (1, 0)), (waiting.StatusCode(), waiting.Workflow()));
        Assert.Equal(1, handler.Executions);
        using var other = factory.CreateWorker("other");
        Assert.Equal(1, (await other.LeaseOneAsync()).Attempt);
    }

    [Fact]
    public async Task TasksStillRunningWhenTheShutdownTimeoutEndsAreAbandonedAndTheirLeasesLapse()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var (handler, started, cancelled) = BlockedUntilCancelled();
        await using var worker = await WorkerHarness.StartAsync(factory, handler,
            o => (o.LeaseSeconds, o.MaxConcurrentTasks) = (30, 1),
            services: s => s.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.Zero));
        await Within(started.Task, "the task started");

        await worker.StopAsync();

        await Within(cancelled.Task, "the handler cancelled");
        await WorkerHarness.EventuallyAsync(() => worker.Logs.GetSnapshot().Any(r => r.Message.Contains("abandoned at shutdown")), "the task abandoned");
        Assert.Empty(worker.Calls.Of("fail"));
        Assert.Empty(worker.Calls.Of("complete"));
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal(("RUNNING", (0, 1)), (status.StatusCode(), status.Workflow()));

        factory.Time.Advance(TimeSpan.FromSeconds(31));
        using var other = factory.CreateWorker("other");
        Assert.Equal(2, (await other.LeaseOneAsync()).Attempt);
    }

    [Fact]
    public async Task ATokenProviderAuthenticatesTheWorkerInsteadOfAnApiKey()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var tokens = 0;
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler((_, rows, ct) => rows.AddRawAsync(Utf8(Row("a")), ct).AsTask()),
            o =>
            {
                o.ApiKey = null;
                o.TokenProvider = _ =>
                {
                    Interlocked.Increment(ref tokens);
                    return ValueTask.FromResult(TestJwt.Create(null, now: factory.Time.GetUtcNow(),
                        extraClaims: [new System.Security.Claims.Claim("scope", "worker")]));
                };
            });

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");
        Assert.True(tokens >= 2, "A token for each call.");
    }

    [Fact]
    public async Task AWorkerWithoutACredentialDoesNotStartAndItsErrorNamesTheSetting()
    {
        using var factory = new QueryStatusFactory();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            WorkerHarness.StartAsync(factory, new DelegateHandler((_, _, _) => Task.CompletedTask), o => (o.ApiKey, o.LeaseSeconds) = (null, 1)));

        Assert.Contains(error.Failures, f => f.Contains("QueryStatus:ApiKey"));
        Assert.Contains(error.Failures, f => f.Contains("QueryStatus:LeaseSeconds"));
    }

    [Fact]
    public async Task TheWorkerNeverLogsItsApiKey()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var ok = await client.SubmitAsync(Sub("ok"));
        var failing = await client.SubmitAsync(Sub("fails"));
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (task, rows, ct) =>
        {
            if (task.Payload.GetProperty("q").GetString() == "fails")
            {
                throw new InvalidOperationException("It broke.");
            }
            await rows.AddRawAsync(Utf8(Row("ok")), ct);
        }));

        await WorkerHarness.WaitForStatusAsync(client, ok, "SUCCESS");
        await WorkerHarness.WaitForStatusAsync(client, failing, "FAILURE");
        await worker.StopAsync();

        var logs = worker.Logs.GetSnapshot();
        Assert.NotEmpty(logs);
        Assert.All(logs, r =>
        {
            Assert.DoesNotContain(TestKeys.Worker.Key, r.Message);
            Assert.DoesNotContain(TestKeys.Worker.Key, string.Join(" ", r.StructuredState?.Select(p => p.Value) ?? []));
            Assert.DoesNotContain(TestKeys.Worker.Key, r.Exception?.ToString() ?? "");
        });
    }

    [Theory]
    [InlineData(7, null, 7)]      // Retry-After: 7
    [InlineData(null, 12, 12)]    // Retry-After: <a date 12 s from now>
    [InlineData(600, null, 30)]   // capped at MaxRetryDelay
    public void RetryAfterSetsTheDelayUpToMaxRetryDelay(int? seconds, int? dateInSeconds, int expected)
    {
        var time = new FakeTimeProvider(QueryStatusFactory.Start);
        var api = new TaskApiClient(new HttpClient(), Options.Create(new QueryStatusWorkerOptions()), time, NullLogger<TaskApiClient>.Instance);
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter = seconds is { } s
            ? new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(s))
            : new System.Net.Http.Headers.RetryConditionHeaderValue(time.GetUtcNow().AddSeconds(dateInSeconds!.Value));

        Assert.Equal(TimeSpan.FromSeconds(expected), api.RetryDelay(response, retry: 0));
    }

    [Fact]
    public void WithoutRetryAfterTheDelayDoublesFromRetryDelayUpToMaxRetryDelay()
    {
        var api = new TaskApiClient(new HttpClient(), Options.Create(new QueryStatusWorkerOptions()), TimeProvider.System, NullLogger<TaskApiClient>.Instance);

        for (var retry = 0; retry < 4; retry++)
        {
            var delay = api.RetryDelay(null, retry);
            Assert.InRange(delay.TotalSeconds, Math.Pow(2, retry), Math.Pow(2, retry) * 1.2);
        }
        Assert.Equal(TimeSpan.FromSeconds(30), api.RetryDelay(null, retry: 10));
    }
}
