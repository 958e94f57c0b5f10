using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using QueryStatus.Client;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Client;

/// <summary>
/// <see cref="QueryStatusClient"/> as an application registers it (<c>AddQueryStatusClient</c>), over real HTTP to the
/// service (its test server's handler under the typed client's own handlers: credential, resilience). A service per
/// test: its workers lease from every license, so another test's queries must not be there.
/// </summary>
public sealed class QueryStatusClientTests : IDisposable
{
    private readonly QueryStatusFactory factory = new();

    public void Dispose() => factory.Dispose();

    private ServiceProvider Services(string license, Action<QueryStatusClientOptions>? more = null, Func<HttpMessageHandler>? handler = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(factory.Time);
        services.AddQueryStatusClient(o =>
            {
                o.BaseAddress = factory.Server.BaseAddress;
                o.TokenProvider = _ => ValueTask.FromResult(TestJwt.Create(license, now: factory.Time.GetUtcNow()));
                more?.Invoke(o);
            })
            .ConfigurePrimaryHttpMessageHandler(handler ?? (() => factory.Server.CreateHandler()));
        return services.BuildServiceProvider(validateScopes: true);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public async Task SubmitThenReadTheStatusOfTheQuery()
    {
        var license = TestData.NewLicenseId();
        await using var services = Services(license);
        var client = services.GetRequiredService<QueryStatusClient>();

        var submitted = await client.SubmitAsync([Json(Sub("a")), Json(Sub("b"))], scheduleId: "client_submit");
        var status = await client.GetStatusAsync("client_submit");

        Assert.Equal(("client_submit", "QUEUED", 2), (submitted.ScheduleId, submitted.StatusCode, submitted.Progress.QueriesTotal));
        Assert.Equal(("QUEUED", 0, 2), (status.StatusCode, status.Progress.QueriesReady, status.Progress.QueriesTotal));
        Assert.False(status.IsFinished);
        Assert.NotNull(status.ETag);
    }

    [Fact]
    public async Task StopEndsTheQuery()
    {
        var license = TestData.NewLicenseId();
        await using var services = Services(license);
        var client = services.GetRequiredService<QueryStatusClient>();
        var submitted = await client.SubmitAsync([Json(Sub("a"))]);

        var stopped = await client.StopAsync(submitted.ScheduleId);

        Assert.Equal("STOPPED", stopped.StatusCode);
        Assert.True(stopped.IsFinished);
    }

    [Fact]
    public async Task AnErrorSurfacesAsOneExceptionWithTheEnvelope()
    {
        await using var services = Services(TestData.NewLicenseId());
        var client = services.GetRequiredService<QueryStatusClient>();

        var error = await Assert.ThrowsAsync<QueryStatusException>(() => client.GetStatusAsync("no_such_query"));

        Assert.Equal(404, error.StatusCode);
        Assert.Equal("NOT_FOUND", error.Code);
        Assert.Equal("Query status not found.", error.ErrorMessage);
        Assert.Contains("no_such_query", error.Description);
        Assert.Matches(@"^[A-Za-z0-9_-]{32}\z", error.RequestId);
    }

    [Fact]
    public async Task AnInvalidCredentialIsAnUnauthorizedException()
    {
        var services = new ServiceCollection();
        services.AddQueryStatusClient(o => { o.BaseAddress = factory.Server.BaseAddress; o.ApiKey = "qs_not_a_key_0000000"; })
            .ConfigurePrimaryHttpMessageHandler(() => factory.Server.CreateHandler());
        await using var provider = services.BuildServiceProvider();

        var error = await Assert.ThrowsAsync<QueryStatusException>(() => provider.GetRequiredService<QueryStatusClient>().GetStatusAsync("any"));

        Assert.Equal((401, "UNAUTHORIZED"), (error.StatusCode, error.Code));
        Assert.DoesNotContain("qs_not_a_key", error.Message);
    }

    [Fact]
    public async Task TheApiKeyReachesNoLogRecordEvenAtTrace()
    {
        const string key = "qs_test_primary_key_0001";
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddFakeLogging());
        services.AddQueryStatusClient(o => { o.BaseAddress = factory.Server.BaseAddress; o.ApiKey = key; })
            .ConfigurePrimaryHttpMessageHandler(() => factory.Server.CreateHandler());
        await using var provider = services.BuildServiceProvider();

        await Assert.ThrowsAsync<QueryStatusException>(() => provider.GetRequiredService<QueryStatusClient>().GetStatusAsync("no_such_query"));

        var records = provider.GetRequiredService<Microsoft.Extensions.Logging.Testing.FakeLogCollector>().GetSnapshot();
        Assert.All(records, r =>
        {
            Assert.DoesNotContain(key, r.Message);
            Assert.DoesNotContain(key, string.Join(";", r.StructuredState?.Select(p => p.Value) ?? []));
        });
    }

    [Fact]
    public async Task WaitReportsEachChangeAndReturnsTheFinalStatus()
    {
        var license = TestData.NewLicenseId();
        await using var services = Services(license);
        var client = services.GetRequiredService<QueryStatusClient>();
        using var worker = factory.CreateWorker();
        var submitted = await client.SubmitAsync([Json(Sub("a")), Json(Sub("b"))]);
        var reports = new List<WaitProgress>();
        var progress = new SynchronousProgress<WaitProgress>(reports);

        var waiting = client.WaitAsync(submitted.ScheduleId, progress);
        // The first look is reported before any worker moves the query on.
        await progress.First.WaitAsync(TimeSpan.FromSeconds(30));
        var first = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(first, [Row("1")]);
        var second = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(second, [Row("2")]);
        var final = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("SUCCESS", final.StatusCode);
        Assert.Equal(new WaitProgress("SUCCESS", 2, 2), reports[^1]);
        Assert.Equal(new WaitProgress("QUEUED", 0, 2), reports[0]);
        Assert.Equal(reports.Distinct().Count(), reports.Count);
    }

    [Fact]
    public async Task WaitWithoutProgressIsOneLongPollThatAnswersAtTheFinish()
    {
        var license = TestData.NewLicenseId();
        var counting = new FlakyHandler(HttpStatusCode.OK, failures: 0) { InnerHandler = factory.Server.CreateHandler() };
        await using var services = Services(license, handler: () => counting);
        var client = services.GetRequiredService<QueryStatusClient>();
        using var worker = factory.CreateWorker();
        var submitted = await client.SubmitAsync([Json(Sub("a")), Json(Sub("b"))]);
        var waits = factory.Services.GetRequiredService<QueryStatus.Api.Status.StatusWaits>();

        var waiting = client.WaitAsync(submitted.ScheduleId);
        var bound = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (waits.Waiting == 0)
        {
            Assert.True(DateTime.UtcNow < bound, "The client did not start a long-poll.");
            await Task.Delay(5);
        }
        foreach (var _ in new[] { 1, 2 })
        {
            var task = await worker.LeaseOneAsync();
            await worker.CompleteOkAsync(task, [Row("r")]);
        }
        var final = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("SUCCESS", final.StatusCode);
        Assert.Equal(2, counting.Calls); // The submit, and one status request.
    }

    [Fact]
    public async Task ReadRowsFollowsThePagesToTheEndByteForByte()
    {
        var license = TestData.NewLicenseId();
        await using var services = Services(license, o => o.PageSize = 7);
        var client = services.GetRequiredService<QueryStatusClient>();
        using var worker = factory.CreateWorker();
        var submitted = await client.SubmitAsync([Json(Sub("a"))]);
        var rows = Enumerable.Range(0, 30).Select(i => i % 3 == 0 ? $"{{ \"n\" : {i}, \"s\":\"é\\u00e9\" }}" : $"[{i},\"x\"]").ToArray();
        var task = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(task, rows);

        var raw = new List<string>();
        await foreach (var row in client.ReadRawRowsAsync(submitted.ScheduleId))
        {
            raw.Add(Encoding.UTF8.GetString(row.Span));
        }
        var parsed = new List<JsonElement>();
        await foreach (var row in client.ReadRowsAsync(submitted.ScheduleId))
        {
            parsed.Add(row);
        }

        Assert.Equal(rows, raw);
        Assert.Equal(30, parsed.Count);
        Assert.Equal(27, parsed[27].GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task ReadingTheRowsOfAQueryThatDidNotSucceedSaysSo()
    {
        var license = TestData.NewLicenseId();
        await using var services = Services(license);
        var client = services.GetRequiredService<QueryStatusClient>();
        var submitted = await client.SubmitAsync([Json(Sub("a"))]);

        var error = await Assert.ThrowsAsync<QueryNotSucceededException>(async () =>
        {
            await foreach (var _ in client.ReadRowsAsync(submitted.ScheduleId))
            {
            }
        });

        Assert.Equal("QUEUED", error.State.StatusCode);
    }

    [Fact]
    public async Task A503IsRetriedAfterItsRetryAfter()
    {
        var license = TestData.NewLicenseId();
        var unavailable = new FlakyHandler(HttpStatusCode.ServiceUnavailable, failures: 2) { InnerHandler = factory.Server.CreateHandler() };
        await using var services = Services(license, handler: () => unavailable);
        var client = services.GetRequiredService<QueryStatusClient>();

        var submitted = await client.SubmitAsync([Json(Sub("a"))], scheduleId: "retried_submit");

        Assert.Equal("retried_submit", submitted.ScheduleId);
        Assert.Equal(3, unavailable.Calls);
    }

    [Fact]
    public async Task RetriesAreBoundedAndThenTheErrorSurfaces()
    {
        var license = TestData.NewLicenseId();
        var limited = new FlakyHandler(HttpStatusCode.TooManyRequests, failures: int.MaxValue) { InnerHandler = factory.Server.CreateHandler() };
        await using var services = Services(license, o => o.MaxRetries = 2, () => limited);
        var client = services.GetRequiredService<QueryStatusClient>();

        var error = await Assert.ThrowsAsync<QueryStatusException>(() => client.GetStatusAsync("any"));

        Assert.Equal((429, "TOO_MANY_REQUESTS"), (error.StatusCode, error.Code));
        Assert.Equal(3, limited.Calls);
    }

    /// <summary>Answers the first <c>failures</c> calls itself, with the service's own envelope and <c>Retry-After: 0</c>.</summary>
    private sealed class FlakyHandler(HttpStatusCode status, int failures) : DelegatingHandler
    {
        private int _calls;
        public int Calls => _calls;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) > failures)
            {
                return base.SendAsync(request, cancellationToken);
            }
            var code = status == HttpStatusCode.TooManyRequests ? "TOO_MANY_REQUESTS" : "SERVICE_UNAVAILABLE";
            var response = new HttpResponseMessage(status)
            {
                Content = new StringContent(
                    JsonSerializer.Serialize(new { meta = new { request_id = "r" }, error = new { code, message = "m" } }), Encoding.UTF8, "application/json"),
            };
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.Zero);
            return Task.FromResult(response);
        }
    }

    /// <summary>Records reports on the reporting thread (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
    private sealed class SynchronousProgress<T>(List<T> reports) : IProgress<T>
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes at the first report.</summary>
        public Task First => _first.Task;

        public void Report(T value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
            _first.TrySetResult();
        }
    }
}
