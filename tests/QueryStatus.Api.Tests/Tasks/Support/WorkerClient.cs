using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Tasks.Support;

/// <summary>A task as the lease call hands it out; <see cref="LeaseExpiresAt"/> is the text the response carried.</summary>
public sealed record WorkerTask(
    string TaskId, string ScheduleId, string LicenseId, JsonElement Payload, int Attempt, string LeaseToken, string LeaseExpiresAt)
{
    /// <summary>The payload as the JSON text the response carried.</summary>
    public string PayloadText => Payload.GetRawText();

    public static WorkerTask From(JsonElement task)
    {
        Assert.Equal(
            ["attempt", "lease_expires_at", "lease_token", "license_id", "payload", "schedule_id", "task_id"],
            task.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        return new WorkerTask(
            task.GetProperty("task_id").GetString()!,
            task.GetProperty("schedule_id").GetString()!,
            task.GetProperty("license_id").GetString()!,
            task.GetProperty("payload").Clone(),
            task.GetProperty("attempt").GetInt32(),
            task.GetProperty("lease_token").GetString()!,
            task.GetProperty("lease_expires_at").GetString()!);
    }
}

/// <summary>
/// The worker side of the protocol over a worker-key client. The raw calls return the response; the
/// <c>…OkAsync</c> forms assert a 200 and return the body.
/// </summary>
public sealed class WorkerClient(HttpClient http, string workerId = "worker-1") : IDisposable
{
    public const string Prefix = "/enterprise/v2/tasks";

    public HttpClient Http { get; } = http;

    public string WorkerId { get; } = workerId;

    public Task<HttpResponseMessage> PostAsync(string path, string json, CancellationToken cancellationToken = default) =>
        Http.PostAsync(Prefix + path, new StringContent(json, Encoding.UTF8, "application/json"), cancellationToken);

    public Task<HttpResponseMessage> PostAsync(string path, JsonNode body, CancellationToken cancellationToken = default) =>
        PostAsync(path, body.ToJsonString(), cancellationToken);

    public Task<HttpResponseMessage> PostLeaseAsync(
        int? maxTasks = null, int? leaseSeconds = null, int? waitSeconds = null, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["worker_id"] = WorkerId };
        if (maxTasks is not null)
        {
            body["max_tasks"] = maxTasks;
        }
        if (leaseSeconds is not null)
        {
            body["lease_seconds"] = leaseSeconds;
        }
        if (waitSeconds is not null)
        {
            body["wait_seconds"] = waitSeconds;
        }
        return PostAsync("/lease", body, cancellationToken);
    }

    /// <summary>Leases up to <paramref name="maxTasks"/> tasks; asserts a 200 of the documented shape.</summary>
    public async Task<IReadOnlyList<WorkerTask>> LeaseAsync(
        int maxTasks = 1, int leaseSeconds = 60, int waitSeconds = 0, CancellationToken cancellationToken = default)
    {
        using var response = await PostLeaseAsync(maxTasks, leaseSeconds, waitSeconds, cancellationToken);
        var body = await response.ReadJsonAsync();
        Assert.Equal(["tasks"], body.EnumerateObject().Select(p => p.Name));
        var tasks = body.GetProperty("tasks").EnumerateArray().Select(WorkerTask.From).ToList();
        Assert.True(tasks.Count <= maxTasks, $"Asked for at most {maxTasks} tasks, got {tasks.Count}.");
        return tasks;
    }

    /// <summary>Leases exactly one task and returns it.</summary>
    public async Task<WorkerTask> LeaseOneAsync(int leaseSeconds = 60) => Assert.Single(await LeaseAsync(1, leaseSeconds));

    public Task<HttpResponseMessage> HeartbeatAsync(string taskId, string leaseToken, int? leaseSeconds = null)
    {
        var body = new JsonObject { ["lease_token"] = leaseToken };
        if (leaseSeconds is not null)
        {
            body["lease_seconds"] = leaseSeconds;
        }
        return PostAsync($"/{taskId}/heartbeat", body);
    }

    public Task<HttpResponseMessage> HeartbeatAsync(WorkerTask task, int? leaseSeconds = null) =>
        HeartbeatAsync(task.TaskId, task.LeaseToken, leaseSeconds);

    /// <summary>Sends rows (each a JSON text) as batch <paramref name="batch"/>.</summary>
    public Task<HttpResponseMessage> RowsAsync(string taskId, string leaseToken, long batch, params string[] rows) =>
        PostAsync($"/{taskId}/rows", new JsonObject
        {
            ["lease_token"] = leaseToken,
            ["batch"] = batch,
            ["rows"] = Array(rows),
        });

    public Task<HttpResponseMessage> RowsAsync(WorkerTask task, long batch, params string[] rows) =>
        RowsAsync(task.TaskId, task.LeaseToken, batch, rows);

    public Task<HttpResponseMessage> CompleteAsync(string taskId, string leaseToken, string[]? rows = null, string[]? subQueries = null)
    {
        var body = new JsonObject { ["lease_token"] = leaseToken };
        if (rows is not null)
        {
            body["rows"] = Array(rows);
        }
        if (subQueries is not null)
        {
            body["subqueries"] = Array(subQueries);
        }
        return PostAsync($"/{taskId}/complete", body);
    }

    public Task<HttpResponseMessage> CompleteAsync(WorkerTask task, string[]? rows = null, string[]? subQueries = null) =>
        CompleteAsync(task.TaskId, task.LeaseToken, rows, subQueries);

    public Task<HttpResponseMessage> FailAsync(string taskId, string leaseToken, string code, string message, bool retryable) =>
        PostAsync($"/{taskId}/fail", new JsonObject
        {
            ["lease_token"] = leaseToken,
            ["code"] = code,
            ["message"] = message,
            ["retryable"] = retryable,
        });

    public Task<HttpResponseMessage> FailAsync(WorkerTask task, string code, string message, bool retryable) =>
        FailAsync(task.TaskId, task.LeaseToken, code, message, retryable);

    public async Task<JsonElement> RowsOkAsync(WorkerTask task, long batch, params string[] rows) =>
        await OkAsync(RowsAsync(task, batch, rows));

    public async Task<JsonElement> CompleteOkAsync(WorkerTask task, string[]? rows = null, string[]? subQueries = null) =>
        await OkAsync(CompleteAsync(task, rows, subQueries));

    public async Task<JsonElement> FailOkAsync(WorkerTask task, string code, string message, bool retryable) =>
        await OkAsync(FailAsync(task, code, message, retryable));

    /// <summary>Asserts a 200 task-call answer about <paramref name="call"/>'s task and returns its body.</summary>
    public static async Task<JsonElement> OkAsync(Task<HttpResponseMessage> call)
    {
        using var response = await call;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(JsonValueKind.String, body.GetProperty("task_id").ValueKind);
        return body;
    }

    public void Dispose() => Http.Dispose();

    private static JsonArray Array(IEnumerable<string> json) => new([.. json.Select(j => JsonNode.Parse(j))]);
}
