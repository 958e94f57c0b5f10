using System.Net;
using System.Text.Json;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Submission.SubmissionKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>A task as the lease call hands it to a worker.</summary>
internal sealed record WorkerTask(string TaskId, string ScheduleId, string LicenseId, JsonElement Payload, int Attempt, string LeaseToken);

/// <summary>
/// A worker's side of the task protocol over HTTP. The lease call serves every license, so a test that
/// leases runs on its own <see cref="QueryStatusFactory"/>.
/// </summary>
internal sealed class WorkerClient(HttpClient http, string workerId = "w") : IDisposable
{
    public const string TasksPath = "/enterprise/v2/tasks";

    public HttpClient Http { get; } = http;

    public static WorkerClient For(QueryStatusFactory factory) => new(factory.CreateWorkerClient());

    public Task<HttpResponseMessage> PostLeaseAsync(int maxTasks = 10, int leaseSeconds = 60) =>
        Http.PostAsync($"{TasksPath}/lease", Json(
            $"{{\"worker_id\":{JsonSerializer.Serialize(workerId)},\"max_tasks\":{maxTasks},\"lease_seconds\":{leaseSeconds}}}"));

    /// <summary>Leases up to <paramref name="maxTasks"/> tasks; asserts 200.</summary>
    public async Task<IReadOnlyList<WorkerTask>> LeaseAsync(int maxTasks = 10, int leaseSeconds = 60)
    {
        using var response = await PostLeaseAsync(maxTasks, leaseSeconds);
        return ReadTasks(await response.ReadJsonAsync());
    }

    public static IReadOnlyList<WorkerTask> ReadTasks(JsonElement body) =>
        [.. body.GetProperty("tasks").EnumerateArray().Select(t => new WorkerTask(
            t.GetProperty("task_id").GetString()!,
            t.GetProperty("schedule_id").GetString()!,
            t.GetProperty("license_id").GetString()!,
            t.GetProperty("payload").Clone(),
            t.GetProperty("attempt").GetInt32(),
            t.GetProperty("lease_token").GetString()!))];

    public Task<HttpResponseMessage> HeartbeatAsync(WorkerTask task) =>
        Http.PostAsync($"{TasksPath}/{task.TaskId}/heartbeat", Json(Body(task)));

    /// <summary>Sends a batch of rows (raw JSON values).</summary>
    public Task<HttpResponseMessage> SendRowsAsync(WorkerTask task, long batch, params string[] rows) =>
        Http.PostAsync($"{TasksPath}/{task.TaskId}/rows", Json(Body(task, $"\"batch\":{batch},\"rows\":[{string.Join(",", rows)}]")));

    /// <summary>Completes the task with its last rows (raw JSON values).</summary>
    public Task<HttpResponseMessage> CompleteAsync(WorkerTask task, params string[] rows) =>
        Http.PostAsync($"{TasksPath}/{task.TaskId}/complete", Json(Body(task, $"\"rows\":[{string.Join(",", rows)}]")));

    public Task<HttpResponseMessage> FailAsync(WorkerTask task, string code = "DATA_SOURCE_ERROR", bool retryable = false) =>
        Http.PostAsync($"{TasksPath}/{task.TaskId}/fail", Json(Body(task,
            $"\"code\":{JsonSerializer.Serialize(code)},\"message\":\"The data source refused.\",\"retryable\":{(retryable ? "true" : "false")}")));

    public async Task SendRowsOkAsync(WorkerTask task, long batch, params string[] rows)
    {
        using var response = await SendRowsAsync(task, batch, rows);
        await response.ReadJsonAsync();
    }

    public async Task CompleteOkAsync(WorkerTask task, params string[] rows)
    {
        using var response = await CompleteAsync(task, rows);
        var body = await response.ReadJsonAsync();
        Assert.Equal("DONE", body.GetProperty("state").GetString());
    }

    public void Dispose() => Http.Dispose();

    private static string Body(WorkerTask task, string? more = null) =>
        $"{{\"lease_token\":{JsonSerializer.Serialize(task.LeaseToken)}" + (more is null ? "" : "," + more) + "}";
}

internal static class WorkerTaskExtensions
{
    /// <summary>The one task whose payload is <c>{"q":<paramref name="q"/>}</c> (see <see cref="SubmissionKit.SubQueries"/>).</summary>
    public static WorkerTask WithQ(this IEnumerable<WorkerTask> tasks, int q) =>
        Assert.Single(tasks, t => t.Payload.ValueKind == JsonValueKind.Object
                                  && t.Payload.TryGetProperty("q", out var value) && value.GetInt32() == q);

    public static async Task AssertConflictAsync(this Task<HttpResponseMessage> call, string? descriptionContains = null)
    {
        using var response = await call;
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        if (descriptionContains is not null)
        {
            Assert.Contains(descriptionContains, description);
        }
    }
}
