using System.Net;
using System.Text;
using System.Text.Json;

namespace QueryStatus.Api.Tests.Infrastructure;

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
/// The worker side of the task protocol over a worker-key client (see <see cref="ClientKit.CreateWorker"/>).
/// The raw calls return the response; the <c>…OkAsync</c> forms assert a 200 and return the body. Rows and
/// sub-queries are JSON text and go into the request exactly as written, as a worker would send them.
/// The lease call serves every license, so a test that leases runs on its own <see cref="QueryStatusFactory"/>.
/// </summary>
public sealed class WorkerClient(HttpClient http, string workerId = "worker-1") : IDisposable
{
    public const string Prefix = "/enterprise/v2/tasks";

    public HttpClient Http { get; } = http;

    public string WorkerId { get; } = workerId;

    public Task<HttpResponseMessage> PostAsync(string path, string json, CancellationToken cancellationToken = default) =>
        Http.PostAsync(Prefix + path, new StringContent(json, Encoding.UTF8, "application/json"), cancellationToken);

    /// <summary>A lease call that sends only what is given (the service's defaults apply to the rest).</summary>
    public Task<HttpResponseMessage> PostLeaseAsync(
        int? maxTasks = null, int? leaseSeconds = null, int? waitSeconds = null, CancellationToken cancellationToken = default) =>
        PostObjectAsync("/lease", body =>
        {
            body.WriteString("worker_id", WorkerId);
            WriteNumberIfGiven(body, "max_tasks", maxTasks);
            WriteNumberIfGiven(body, "lease_seconds", leaseSeconds);
            WriteNumberIfGiven(body, "wait_seconds", waitSeconds);
        }, cancellationToken);

    /// <summary>Leases up to <paramref name="maxTasks"/> tasks; asserts a 200 of the documented shape.</summary>
    public async Task<IReadOnlyList<WorkerTask>> LeaseAsync(
        int maxTasks = 10, int leaseSeconds = 60, int waitSeconds = 0, CancellationToken cancellationToken = default)
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

    public Task<HttpResponseMessage> HeartbeatAsync(string taskId, string leaseToken, int? leaseSeconds = null) =>
        PostObjectAsync($"/{taskId}/heartbeat", body =>
        {
            body.WriteString("lease_token", leaseToken);
            WriteNumberIfGiven(body, "lease_seconds", leaseSeconds);
        });

    public Task<HttpResponseMessage> HeartbeatAsync(WorkerTask task, int? leaseSeconds = null) =>
        HeartbeatAsync(task.TaskId, task.LeaseToken, leaseSeconds);

    /// <summary>Sends rows (each a JSON text) as batch <paramref name="batch"/>.</summary>
    public Task<HttpResponseMessage> RowsAsync(string taskId, string leaseToken, long batch, params string[] rows) =>
        PostObjectAsync($"/{taskId}/rows", body =>
        {
            body.WriteString("lease_token", leaseToken);
            body.WriteNumber("batch", batch);
            WriteRawArrayIfGiven(body, "rows", rows);
        });

    public Task<HttpResponseMessage> RowsAsync(WorkerTask task, long batch, params string[] rows) =>
        RowsAsync(task.TaskId, task.LeaseToken, batch, rows);

    /// <summary>Completes the task with its last rows and any new sub-queries (each a JSON text); null leaves the field out.</summary>
    public Task<HttpResponseMessage> CompleteAsync(string taskId, string leaseToken, string[]? rows = null, string[]? subQueries = null) =>
        PostObjectAsync($"/{taskId}/complete", body =>
        {
            body.WriteString("lease_token", leaseToken);
            WriteRawArrayIfGiven(body, "rows", rows);
            WriteRawArrayIfGiven(body, "subqueries", subQueries);
        });

    public Task<HttpResponseMessage> CompleteAsync(WorkerTask task, string[]? rows = null, string[]? subQueries = null) =>
        CompleteAsync(task.TaskId, task.LeaseToken, rows, subQueries);

    public Task<HttpResponseMessage> FailAsync(string taskId, string leaseToken, string code, string message, bool retryable) =>
        PostObjectAsync($"/{taskId}/fail", body =>
        {
            body.WriteString("lease_token", leaseToken);
            body.WriteString("code", code);
            body.WriteString("message", message);
            body.WriteBoolean("retryable", retryable);
        });

    /// <summary>Reports a failure; by default a plain, non-retryable DATA_SOURCE_ERROR.</summary>
    public Task<HttpResponseMessage> FailAsync(
        WorkerTask task, string code = "DATA_SOURCE_ERROR", string message = "The data source refused.", bool retryable = false) =>
        FailAsync(task.TaskId, task.LeaseToken, code, message, retryable);

    public async Task<JsonElement> RowsOkAsync(WorkerTask task, long batch, params string[] rows) =>
        await OkAsync(RowsAsync(task, batch, rows));

    /// <summary>Completes the task and asserts the answer: 200, the task DONE.</summary>
    public async Task<JsonElement> CompleteOkAsync(WorkerTask task, string[]? rows = null, string[]? subQueries = null)
    {
        var body = await OkAsync(CompleteAsync(task, rows, subQueries));
        Assert.Equal("DONE", body.GetProperty("state").GetString());
        return body;
    }

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

    /// <summary>POSTs the JSON object <paramref name="writeMembers"/> writes.</summary>
    private Task<HttpResponseMessage> PostObjectAsync(
        string path, Action<Utf8JsonWriter> writeMembers, CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writeMembers(writer);
            writer.WriteEndObject();
        }
        return PostAsync(path, Encoding.UTF8.GetString(buffer.ToArray()), cancellationToken);
    }

    private static void WriteNumberIfGiven(Utf8JsonWriter body, string name, int? value)
    {
        if (value is { } number)
        {
            body.WriteNumber(name, number);
        }
    }

    /// <summary>An array of the given JSON texts, each written as it is (it must be valid JSON).</summary>
    private static void WriteRawArrayIfGiven(Utf8JsonWriter body, string name, IEnumerable<string>? json)
    {
        if (json is null)
        {
            return;
        }
        body.WriteStartArray(name);
        foreach (var value in json)
        {
            body.WriteRawValue(value);
        }
        body.WriteEndArray();
    }
}
