using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using QueryStatus.Api.Status;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>
/// <c>wait_seconds</c>: a status request that waits on the server, woken by its query's change events, until the state
/// differs from its <c>If-None-Match</c> (or, without one, until the query finished), or the seconds pass on the
/// service's clock (moved here by the factory's fake clock). Each test makes its own service, so that the waiter
/// count it watches is its own.
/// </summary>
public class LongPollTests(string provider = StoreOptions.InMemoryProvider)
{
    protected sealed class Service : IDisposable
    {
        public Service(string provider, int? maxWaiters = null, IReadOnlyDictionary<string, string?>? settings = null, string? license = null)
        {
            var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
            if (maxWaiters is { } max)
            {
                all["Status:MaxWaiters"] = max.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            Factory = new QueryStatusFactory { Provider = provider, Settings = all };
            License = license ?? TestData.NewLicenseId();
            Client = Factory.CreateJwtClient(License);
            Worker = Factory.CreateWorker();
        }

        public QueryStatusFactory Factory { get; }
        public string License { get; }
        public HttpClient Client { get; }
        public WorkerClient Worker { get; }
        public StatusWaits Waits => Factory.Services.GetRequiredService<StatusWaits>();

        /// <summary>Starts a status request; returns once the service holds it waiting.</summary>
        public async Task<Task<HttpResponseMessage>> StartWaitingAsync(string scheduleId, int seconds, string? ifNoneMatch = null, CancellationToken cancellationToken = default)
        {
            var before = Waits.Waiting;
            var request = new HttpRequestMessage(HttpMethod.Get, HttpAssertions.StatusUrl(scheduleId, $"wait_seconds={seconds}"));
            if (ifNoneMatch is not null)
            {
                request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
            }
            var answer = Client.SendAsync(request, cancellationToken);
            await Until(() => Waits.Waiting > before || answer.IsCompleted);
            Assert.False(answer.IsCompleted, "The request answered at once instead of waiting.");
            return answer;
        }

        public void Dispose()
        {
            Client.Dispose();
            Factory.Dispose();
        }
    }

    /// <summary>Waits for a condition the service reaches on its own threads (no fixed sleep; a generous bound).</summary>
    private static async Task Until(Func<bool> condition)
    {
        var bound = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < bound, "The condition did not hold within 30 s.");
            await Task.Delay(5);
        }
    }

    protected static async Task<string> ETagAsync(HttpClient client, string scheduleId)
    {
        using var response = await client.GetStatusAsync(scheduleId);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.ETag!.ToString();
    }

    [Fact]
    public async Task AWaitWithoutETagAnswersWhenTheQueryFinishes()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"));
        var waiting = await service.StartWaitingAsync(scheduleId, 30);

        var task = await service.Worker.LeaseOneAsync();
        Assert.False(waiting.IsCompleted, "A change that does not finish the query must not end a wait without If-None-Match.");
        await service.Worker.CompleteOkAsync(task, [Row("done")]);

        using var response = await waiting;
        var body = await response.ReadJsonAsync();
        Assert.Equal("SUCCESS", body.StatusCode());
        Assert.Equal([Row("done")], body.RawRows());
        Assert.Equal(0, service.Waits.Waiting);
    }

    [Fact]
    public async Task AWaitWithoutETagAnswersTheUsualOkWhenTheSecondsPass()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"));
        var waiting = await service.StartWaitingAsync(scheduleId, 30);

        service.Factory.Time.Advance(TimeSpan.FromSeconds(29));
        await Task.Yield();
        Assert.False(waiting.IsCompleted);
        service.Factory.Time.Advance(TimeSpan.FromSeconds(1));

        using var response = await waiting;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("QUEUED", (await response.ReadJsonAsync()).StatusCode());
    }

    [Fact]
    public async Task AWaitWithETagAnswersTheNewStateAtTheFirstChange()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"), Sub("b"));
        var etag = await ETagAsync(service.Client, scheduleId);
        var waiting = await service.StartWaitingAsync(scheduleId, 30, etag);

        var task = await service.Worker.LeaseOneAsync();

        using var response = await waiting;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(etag, response.Headers.ETag!.ToString());
        Assert.Equal("RUNNING", (await response.ReadJsonAsync()).StatusCode());
        Assert.Equal(await ETagAsync(service.Client, scheduleId), response.Headers.ETag!.ToString());
        Assert.NotNull(task);
    }

    [Fact]
    public async Task AWaitWithETagAnswersNotModifiedWhenTheSecondsPassWithoutAChange()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"));
        var etag = await ETagAsync(service.Client, scheduleId);
        var waiting = await service.StartWaitingAsync(scheduleId, 1, etag);

        service.Factory.Time.Advance(TimeSpan.FromSeconds(1));

        using var response = await waiting;
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(etag, response.Headers.ETag!.ToString());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task AChangeJustBeforeTheDeadlineStillWakesTheWaiter()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"));
        var etag = await ETagAsync(service.Client, scheduleId);
        var waiting = await service.StartWaitingAsync(scheduleId, 30, etag);

        service.Factory.Time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromMilliseconds(1));
        await service.Client.StopAsync(scheduleId);

        using var response = await waiting;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("STOPPED", (await response.ReadJsonAsync()).StatusCode());
    }

    [Fact]
    public async Task ChangesThatLeaveTheETagAsItWasKeepTheRequestWaiting()
    {
        using var service = new Service(provider);
        var watched = await service.Client.SubmitAsync(Sub("a"));
        var etag = await ETagAsync(service.Client, watched);
        var waiting = await service.StartWaitingAsync(watched, 30, etag);

        // Work on another query of the license changes the watched one's workflow counters only.
        await service.Client.SubmitAsync(Sub("other"));
        await service.Client.GetStatusAsync(watched);
        Assert.False(waiting.IsCompleted);

        service.Factory.Time.Advance(TimeSpan.FromSeconds(30));
        using var response = await waiting;
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
    }

    [Fact]
    public async Task WaitZeroAnswersAtOnce()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"));
        var etag = await ETagAsync(service.Client, scheduleId);

        using var plain = await service.Client.GetStatusAsync(scheduleId, "wait_seconds=0");
        using var request = new HttpRequestMessage(HttpMethod.Get, HttpAssertions.StatusUrl(scheduleId, "wait_seconds=0"));
        request.Headers.TryAddWithoutValidation("If-None-Match", etag);
        using var conditional = await service.Client.SendAsync(request);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.NotModified), (plain.StatusCode, conditional.StatusCode));
    }

    [Fact]
    public async Task AFinishedQueryAnswersAtOnceWithoutETag()
    {
        using var service = new Service(provider);
        var schedule = await service.Factory.PutAsync(TestData.Success(service.License));

        using var response = await service.Client.GetStatusAsync(schedule.ScheduleId, "wait_seconds=30");

        Assert.Equal("SUCCESS", (await response.ReadJsonAsync()).StatusCode());
    }

    [Fact]
    public async Task WaitSecondsInsideJsonWaitsToo()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"));
        var before = service.Waits.Waiting;
        var json = Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, object> { ["schedule_id"] = scheduleId, ["wait_seconds"] = 5 }));

        var answer = service.Client.GetAsync($"/enterprise/v2/query/status?json={json}");
        await Until(() => service.Waits.Waiting > before || answer.IsCompleted);
        Assert.False(answer.IsCompleted);
        service.Factory.Time.Advance(TimeSpan.FromSeconds(5));

        using var response = await answer;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task AClientThatGoesAwayEndsItsWait()
    {
        using var service = new Service(provider);
        var scheduleId = await service.Client.SubmitAsync(Sub("a"));
        using var cancel = new CancellationTokenSource();
        var waiting = await service.StartWaitingAsync(scheduleId, 30, cancellationToken: cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await Until(() => service.Waits.Waiting == 0);
        Assert.Equal(0, service.Factory.Services.GetRequiredService<ScheduleChanges>().Watched);
    }

    [Fact]
    public async Task PastMaxWaitersARequestAnswersAtOnceAsIfItHadNotAskedToWait()
    {
        using var service = new Service(provider, maxWaiters: 1);
        var first = await service.Client.SubmitAsync(Sub("a"));
        var second = await service.Client.SubmitAsync(Sub("b"));
        var waiting = await service.StartWaitingAsync(first, 30);

        using var atOnce = await service.Client.GetStatusAsync(second, "wait_seconds=30");

        Assert.Equal(HttpStatusCode.OK, atOnce.StatusCode);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, service.Waits.Waiting);
        service.Factory.Time.Advance(TimeSpan.FromSeconds(30));
        using var _ = await waiting;
    }

    [Theory]
    [InlineData("wait_seconds=31")]
    [InlineData("wait_seconds=-1")]
    [InlineData("wait_seconds=1.5")]
    [InlineData("wait_seconds=soon")]
    [InlineData("json=%7B%22schedule_id%22%3A%22x%22%2C%22wait_seconds%22%3A99%7D")]
    public async Task WaitSecondsOutOfRangeReturnsBadRequestNamingIt(string query)
    {
        using var service = new Service(provider);
        var url = query.StartsWith("json=", StringComparison.Ordinal)
            ? $"/enterprise/v2/query/status?{query}"
            : HttpAssertions.StatusUrl("some_query", query);

        using var response = await service.Client.GetAsync(url);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.StartsWith("wait_seconds:", description);
    }
}

/// <summary>The same tests on PostgreSQL, and the one that needs a database shared by two instances.</summary>
public sealed class LongPollTestsOnPostgres() : LongPollTests(StoreOptions.PostgresProvider)
{
    [Fact]
    public async Task AWaitOnOneInstanceWakesForAChangeMadeThroughAnother()
    {
        var settings = await StoreProviders.SettingsAsync(StoreOptions.PostgresProvider);
        using var a = new Service(StoreOptions.PostgresProvider, settings: settings);
        using var b = new Service(StoreOptions.PostgresProvider, settings: settings, license: a.License);
        b.Factory.Time.SetUtcNow(a.Factory.Time.GetUtcNow());
        var scheduleId = await a.Client.SubmitAsync(Sub("a"), Sub("b"));
        var etag = await ETagAsync(a.Client, scheduleId);
        var waitingOnA = await a.StartWaitingAsync(scheduleId, 30, etag);
        var finishingOnA = await a.StartWaitingAsync(scheduleId, 30);

        var first = await b.Worker.LeaseOneAsync();
        using var changed = await waitingOnA;
        Assert.Equal("RUNNING", (await changed.ReadJsonAsync()).StatusCode());
        Assert.False(finishingOnA.IsCompleted);

        await b.Worker.CompleteOkAsync(first, [Row("one")]);
        var second = await b.Worker.LeaseOneAsync();
        await b.Worker.CompleteOkAsync(second, [Row("two")]);
        using var finished = await finishingOnA;
        var body = await finished.ReadJsonAsync();
        Assert.Equal("SUCCESS", body.StatusCode());
        Assert.Equal([Row("one"), Row("two")], body.RawRows());
    }
}
