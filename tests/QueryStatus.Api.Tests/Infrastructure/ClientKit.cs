using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>
/// A client's side of the query endpoints, shared by the submission, worker and status tests: clients, request
/// bodies, submit/stop/status calls, readers for the status body, paging through a result, and waiting on the
/// fake clock without sleeping. Sub-queries and rows are raw JSON text, as a client would write them.
/// </summary>
public static class ClientKit
{
    public const string SubmitPath = "/enterprise/v2/query/submit";
    public const string StopPath = "/enterprise/v2/query/stop";
    public const string StatusPath = "/enterprise/v2/query/status";

    /// <summary>Retention of finished runs (Store:Retention default).</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    /// <summary>How long (wall clock) a test waits for something that should happen at once before it gives up.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    // ---- factories and clients --------------------------------------------------------------------

    /// <summary>A factory on store <paramref name="provider"/> whose configuration adds <paramref name="settings"/>.</summary>
    public static QueryStatusFactory NewFactory(string provider, params (string Key, string Value)[] settings) =>
        new() { Provider = provider, Settings = settings.ToDictionary(s => s.Key, s => (string?)s.Value) };

    /// <summary>
    /// A client with a JWT for <paramref name="licenseId"/> (and <paramref name="scope"/> as its scope claim when
    /// given) that stays valid for 30 days of the service's clock (which JwtBearer uses too), so tests may move
    /// time past retention and keep calling.
    /// </summary>
    public static HttpClient CreateJwtClient(this QueryStatusFactory factory, string? licenseId, string? scope = null) =>
        factory.CreateClientWithJwt(licenseId, scope, lifetime: TimeSpan.FromDays(30));

    /// <summary>A <see cref="WorkerClient"/> over a worker-key client.</summary>
    public static WorkerClient CreateWorker(this QueryStatusFactory factory, string workerId = "worker-1") =>
        new(factory.CreateWorkerClient(), workerId);

    // ---- sub-queries and rows ----------------------------------------------------------------------

    /// <summary>Sub-queries <c>{"q":0}</c>, <c>{"q":1}</c>, … as JSON text.</summary>
    public static string[] SubQueries(int count) => [.. Enumerable.Range(0, count).Select(i => $"{{\"q\":{i}}}")];

    /// <summary>A sub-query payload naming itself: <c>{"q":"name"}</c>.</summary>
    public static string Sub(string name) => $"{{\"q\":\"{name}\"}}";

    public static string[] Subs(string prefix, int count) => [.. Enumerable.Range(0, count).Select(i => Sub($"{prefix}{i}"))];

    /// <summary>A result row: <c>{"v":"text"}</c>.</summary>
    public static string Row(string text) => $"{{\"v\":\"{text}\"}}";

    /// <summary>The name a <see cref="Sub"/> payload carries.</summary>
    public static string Name(this WorkerTask task) => task.Payload.GetProperty("q").GetString()!;

    /// <summary>The one task whose payload is <c>{"q":<paramref name="q"/>}</c> (see <see cref="SubQueries"/>).</summary>
    public static WorkerTask WithQ(this IEnumerable<WorkerTask> tasks, int q) =>
        Assert.Single(tasks, t => t.Payload.ValueKind == JsonValueKind.Object
                                  && t.Payload.TryGetProperty("q", out var value) && value.GetInt32() == q);

    // ---- requests ----------------------------------------------------------------------------------

    /// <summary>A submit body; sub-queries are inserted as the raw JSON given.</summary>
    public static string SubmitBody(string? scheduleId, IEnumerable<string> subQueries, string? notBefore = null)
    {
        var fields = new List<string>();
        if (scheduleId is not null)
        {
            fields.Add($"\"schedule_id\":{JsonSerializer.Serialize(scheduleId)}");
        }
        fields.Add($"\"subqueries\":[{string.Join(",", subQueries)}]");
        if (notBefore is not null)
        {
            fields.Add($"\"not_before\":{JsonSerializer.Serialize(notBefore)}");
        }
        return "{" + string.Join(",", fields) + "}";
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>ISO 8601 UTC, as a client would write a start time.</summary>
    public static string Iso(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public static Task<HttpResponseMessage> PostSubmitAsync(this HttpClient client, string body) =>
        client.PostAsync(SubmitPath, Json(body));

    /// <summary>Submits and asserts 202; returns the body.</summary>
    public static async Task<JsonElement> SubmitAsync(
        this HttpClient client, string? scheduleId, IEnumerable<string> subQueries, string? notBefore = null)
    {
        using var response = await client.PostSubmitAsync(SubmitBody(scheduleId, subQueries, notBefore));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"Expected 202, got {(int)response.StatusCode}: {text}");
        return Parse(text);
    }

    /// <summary>Submits <paramref name="subQueries"/> of <see cref="SubQueries"/>; asserts 202 and returns the body.</summary>
    public static Task<JsonElement> SubmitAsync(this HttpClient client, string? scheduleId, int subQueries, string? notBefore = null) =>
        client.SubmitAsync(scheduleId, SubQueries(subQueries), notBefore);

    /// <summary>Submits a fresh schedule of <paramref name="subQueries"/>; asserts 202 and returns its schedule ID.</summary>
    public static async Task<string> SubmitAsync(this HttpClient client, params string[] subQueries)
    {
        var scheduleId = TestData.NewScheduleId();
        await client.SubmitAsync(scheduleId, subQueries);
        return scheduleId;
    }

    /// <summary>POST stop with <c>schedule_id</c> as a query parameter and no body.</summary>
    public static Task<HttpResponseMessage> PostStopAsync(this HttpClient client, string scheduleId) =>
        client.PostAsync($"{StopPath}?schedule_id={Uri.EscapeDataString(scheduleId)}", content: null);

    /// <summary>Stops and asserts success; returns the body.</summary>
    public static async Task<JsonElement> StopAsync(this HttpClient client, string scheduleId)
    {
        using var response = await client.PostStopAsync(scheduleId);
        return await response.ReadJsonAsync();
    }

    public static Task<HttpResponseMessage> GetStatusAsync(this HttpClient client, string scheduleId, string? extra = null) =>
        client.GetAsync(HttpAssertions.StatusUrl(scheduleId, extra));

    /// <summary>GETs the status and asserts success; returns the body.</summary>
    public static Task<JsonElement> StatusAsync(this HttpClient client, string scheduleId, string? extra = null) =>
        client.GetOkAsync(HttpAssertions.StatusUrl(scheduleId, extra));

    /// <summary>GETs <paramref name="url"/>, asserts success and returns the parsed body.</summary>
    public static async Task<JsonElement> GetOkAsync(this HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        return await response.ReadJsonAsync();
    }

    // ---- reading a status body ---------------------------------------------------------------------

    public static JsonElement Meta(this JsonElement body) => body.GetProperty("meta");

    public static JsonElement Paging(this JsonElement body) => body.Meta().GetProperty("paging");

    public static string ScheduleId(this JsonElement body) => body.Meta().GetProperty("schedule_id").GetString()!;

    public static string StatusCode(this JsonElement body) => body.Meta().GetProperty("status_code").GetString()!;

    public static (int Ready, int Total) Progress(this JsonElement body)
    {
        var progress = body.Meta().GetProperty("progress");
        return (progress.GetProperty("queries_ready").GetInt32(), progress.GetProperty("queries_total").GetInt32());
    }

    public static (int Scheduled, int Running) Workflow(this JsonElement body)
    {
        var workflow = body.Meta().GetProperty("workflow");
        return (workflow.GetProperty("tasks_scheduled").GetInt32(), workflow.GetProperty("tasks_running").GetInt32());
    }

    /// <summary>meta.failure as (code, message), or null when there is none.</summary>
    public static (string Code, string Message)? Failure(this JsonElement body) =>
        body.Meta().TryGetProperty("failure", out var failure)
            ? (failure.GetProperty("code").GetString()!, failure.GetProperty("message").GetString()!)
            : null;

    /// <summary>Asserts the run failed with <paramref name="code"/> and served no rows; returns the failure message.</summary>
    public static string AssertFailure(this JsonElement body, string code)
    {
        Assert.Equal("FAILURE", body.StatusCode());
        var failure = Assert.NotNull(body.Failure());
        Assert.Equal(code, failure.Code);
        Assert.Empty(body.RawRows());
        return failure.Message;
    }

    public static long TotalRows(this JsonElement body) => body.Paging().GetProperty("total_rows").GetInt64();

    public static long? NextOffsetStart(this JsonElement body) =>
        body.Paging().GetProperty("next_offset_start") is { ValueKind: JsonValueKind.Number } next ? next.GetInt64() : null;

    public static DateTimeOffset? ExpiresAt(this JsonElement body) =>
        body.Meta().TryGetProperty("expires_at", out var expires)
            ? DateTimeOffset.Parse(expires.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
            : null;

    public static IReadOnlyList<JsonElement> Data(this JsonElement body) => [.. body.GetProperty("data").EnumerateArray()];

    /// <summary>The rows of <c>data</c> as the raw JSON text the response carried.</summary>
    public static List<string> RawRows(this JsonElement body) =>
        [.. body.GetProperty("data").EnumerateArray().Select(r => r.GetRawText())];

    /// <summary>Reads every row of a SUCCESS run through the status endpoint, <paramref name="pageSize"/> rows a page.</summary>
    public static async Task<List<JsonElement>> ReadAllRowsAsync(this HttpClient client, string scheduleId, int pageSize)
    {
        var rows = new List<JsonElement>();
        long? offset = 0;
        var pages = 0;
        while (offset is { } start)
        {
            var page = await client.StatusAsync(scheduleId, $"offset_start={start}&offset_end={start + pageSize}");
            Assert.Equal("SUCCESS", page.StatusCode());
            Assert.True(page.Data().Count <= pageSize);
            rows.AddRange(page.Data());
            offset = page.NextOffsetStart();
            Assert.True(++pages <= 1000, "paging does not end");
        }
        return rows;
    }

    // ---- comparing JSON ----------------------------------------------------------------------------

    /// <summary>The names of an element's properties, recursively, as paths: the shape of a JSON body.</summary>
    public static IReadOnlyList<string> Shape(JsonElement element, string path = "$")
    {
        var paths = new List<string> { $"{path}:{element.ValueKind}" };
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                paths.AddRange(Shape(property.Value, $"{path}.{property.Name}"));
            }
        }
        return paths;
    }

    /// <summary>Asserts the two JSON values are equal as JSON (not as text); shows both when they are not.</summary>
    public static void AssertJsonEqual(JsonElement expected, JsonElement actual) =>
        Assert.True(JsonElement.DeepEquals(expected, actual), $"Expected {expected.GetRawText()}, got {actual.GetRawText()}");

    public static void AssertJsonEqual(string expected, JsonElement actual) => AssertJsonEqual(Parse(expected), actual);

    // ---- waiting without sleeping ------------------------------------------------------------------

    /// <summary>
    /// Moves the service's clock by <paramref name="by"/> and applies the time step before returning: what came due
    /// (a start time, a run's timeout, a lease's end) shows on the next status read. A read applies no deadline; the
    /// sweeper's tick does, but it may still be at work when <see cref="FakeTimeProvider.Advance"/> returns (a
    /// PostgreSQL sweep always is), so a test that reads right after moving the clock steps the store itself.
    /// </summary>
    public static async Task AdvanceAsync(this QueryStatusFactory factory, TimeSpan by)
    {
        factory.Time.Advance(by);
        await factory.Store.RemoveExpiredAsync(CancellationToken.None);
    }

    /// <summary>
    /// Waits, yielding and never sleeping, until <paramref name="condition"/> holds; fails the test when it still does
    /// not after <see cref="Patience"/>.
    /// </summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        using var patience = new CancellationTokenSource(Patience);
        while (!condition())
        {
            if (patience.IsCancellationRequested)
            {
                Assert.Fail($"Gave up waiting: {what}.");
            }
            await Task.Yield();
        }
    }

    /// <summary>The result of <paramref name="call"/> once it has finished (see <see cref="EventuallyAsync"/>).</summary>
    public static async Task<T> FinishedAsync<T>(Task<T> call, string what)
    {
        await EventuallyAsync(() => call.IsCompleted, what);
        return await call;
    }

    private static readonly FieldInfo? WaitersField =
        typeof(FakeTimeProvider).GetField("Waiters", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>
    /// How many timers wait on <paramref name="time"/>. A lease call that waits for work sleeps on a timer of the
    /// service clock, so a new timer is how a test knows the call has started to wait before it moves the clock or
    /// submits. FakeTimeProvider keeps its timers in an internal collection, the only place this can be read.
    /// </summary>
    public static int PendingTimers(this FakeTimeProvider time)
    {
        var waiters = WaitersField?.GetValue(time)
                      ?? throw new InvalidOperationException("FakeTimeProvider no longer keeps its timers in 'Waiters'; update PendingTimers.");
        var count = waiters.GetType().GetProperty("Count")!;
        lock (waiters)
        {
            return (int)count.GetValue(waiters)!;
        }
    }
}
