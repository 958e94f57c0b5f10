using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Tasks.Support;

/// <summary>The client side of the worker tests: submit, stop, read status, and wait on the fake clock without sleeping.</summary>
internal static class TaskTestKit
{
    public const string SubmitPath = "/enterprise/v2/query/submit";

    /// <summary>How long (wall clock) a test waits for something that should happen at once before it gives up.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>A factory whose configuration adds <paramref name="settings"/>.</summary>
    public static QueryStatusFactory NewFactory(params (string Key, string Value)[] settings) =>
        new() { Settings = settings.ToDictionary(s => s.Key, s => (string?)s.Value) };

    public static WorkerClient CreateWorker(this QueryStatusFactory factory, string workerId = "worker-1") =>
        new(factory.CreateWorkerClient(), workerId);

    /// <summary>A sub-query payload naming itself: <c>{"q":"name"}</c>.</summary>
    public static string Sub(string name) => $"{{\"q\":\"{name}\"}}";

    public static string[] Subs(string prefix, int count) => [.. Enumerable.Range(0, count).Select(i => Sub($"{prefix}{i}"))];

    /// <summary>A result row: <c>{"v":"text"}</c>.</summary>
    public static string Row(string text) => $"{{\"v\":\"{text}\"}}";

    /// <summary>The name a <see cref="Sub"/> payload carries.</summary>
    public static string Name(this WorkerTask task) => task.Payload.GetProperty("q").GetString()!;

    /// <summary>Submits a fresh schedule of <paramref name="subQueries"/>; asserts 202 and returns its schedule ID.</summary>
    public static async Task<string> SubmitAsync(this HttpClient client, params string[] subQueries)
    {
        var scheduleId = TestData.NewScheduleId();
        await client.SubmitAsync(scheduleId, subQueries);
        return scheduleId;
    }

    public static async Task<JsonElement> SubmitAsync(this HttpClient client, string scheduleId, IEnumerable<string> subQueries)
    {
        var body = new JsonObject
        {
            ["schedule_id"] = scheduleId,
            ["subqueries"] = new JsonArray([.. subQueries.Select(s => JsonNode.Parse(s))]),
        };
        using var response = await client.PostAsync(SubmitPath, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var status = await response.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return status;
    }

    public static async Task<JsonElement> StopAsync(this HttpClient client, string scheduleId)
    {
        using var response = await client.PostAsync($"/enterprise/v2/query/stop?schedule_id={scheduleId}", null);
        return await response.ReadJsonAsync();
    }

    public static async Task<JsonElement> StatusAsync(this HttpClient client, string scheduleId)
    {
        using var response = await client.GetAsync(HttpAssertions.StatusUrl(scheduleId));
        return await response.ReadJsonAsync();
    }

    public static string StatusCode(this JsonElement status) => status.GetProperty("meta").GetProperty("status_code").GetString()!;

    public static (int Ready, int Total) Progress(this JsonElement status)
    {
        var progress = status.GetProperty("meta").GetProperty("progress");
        return (progress.GetProperty("queries_ready").GetInt32(), progress.GetProperty("queries_total").GetInt32());
    }

    public static (int Scheduled, int Running) Workflow(this JsonElement status)
    {
        var workflow = status.GetProperty("meta").GetProperty("workflow");
        return (workflow.GetProperty("tasks_scheduled").GetInt32(), workflow.GetProperty("tasks_running").GetInt32());
    }

    /// <summary>meta.failure as (code, message), or null when there is none.</summary>
    public static (string Code, string Message)? Failure(this JsonElement status) =>
        status.GetProperty("meta").TryGetProperty("failure", out var failure)
            ? (failure.GetProperty("code").GetString()!, failure.GetProperty("message").GetString()!)
            : null;

    /// <summary>The rows of <c>data</c> as the JSON text the response carried.</summary>
    public static List<string> Rows(this JsonElement status) =>
        [.. status.GetProperty("data").EnumerateArray().Select(r => r.GetRawText())];

    /// <summary>Asserts the run failed with <paramref name="code"/> and served no rows; returns the failure message.</summary>
    public static string AssertFailure(this JsonElement status, string code)
    {
        Assert.Equal("FAILURE", status.StatusCode());
        var failure = Assert.NotNull(status.Failure());
        Assert.Equal(code, failure.Code);
        Assert.Empty(status.Rows());
        return failure.Message;
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
