using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using QueryStatus.Client;

namespace QueryStatus.Worker;

/// <summary>A task as leased: what the handler sees, and the token that proves the lease.</summary>
internal sealed record LeasedTask(WorkerTask Task, string LeaseToken);

/// <summary>How a call on a leased task ended: applied, or refused because the lease is gone (409) or the task is (404).</summary>
internal enum TaskCallOutcome
{
    Applied,
    LeaseLost,
}

/// <summary>
/// A call the service refused for good (400, 401, 403, 413, ...), or that kept failing (429, 5xx, network) until the
/// retries ran out (<see cref="Transient"/>). The message holds the status and the service's error code, nothing sent.
/// </summary>
internal sealed class TaskCallException(string message, HttpStatusCode? status, string? errorCode, bool transient, Exception? inner = null)
    : Exception(message, inner)
{
    public HttpStatusCode? Status { get; } = status;
    public string? ErrorCode { get; } = errorCode;
    public bool Transient { get; } = transient;
}

/// <summary>
/// The worker side of the task protocol over a typed <see cref="HttpClient"/> (from IHttpClientFactory): builds the
/// bodies, adds the credential, and retries what is worth retrying, honouring <c>Retry-After</c> on 429 and 503.
/// Every call is safe to repeat: batches are numbered, and a repeated completion is acknowledged as a duplicate.
/// </summary>
internal sealed class TaskApiClient(HttpClient http, IOptions<QueryStatusWorkerOptions> options, TimeProvider time, ILogger<TaskApiClient> logger)
{
    public const string TasksPath = "enterprise/v2/tasks";

    private readonly QueryStatusWorkerOptions _options = options.Value;

    /// <summary>Leases up to <paramref name="maxTasks"/> tasks, waiting on the server up to LeaseWaitSeconds; retries transient failures until cancelled.</summary>
    public async Task<IReadOnlyList<LeasedTask>> LeaseAsync(int maxTasks, CancellationToken cancellationToken)
    {
        var body = Json(w =>
        {
            w.WriteString("worker_id", _options.WorkerId);
            w.WriteNumber("max_tasks", maxTasks);
            w.WriteNumber("lease_seconds", _options.LeaseSeconds);
            w.WriteNumber("wait_seconds", _options.LeaseWaitSeconds);
        });
        using var response = await SendAsync("lease", $"{TasksPath}/lease", body, int.MaxValue, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await RefusedAsync("lease", response, cancellationToken);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
        var tasks = new List<LeasedTask>();
        foreach (var task in document.RootElement.GetProperty("tasks").EnumerateArray())
        {
            tasks.Add(new LeasedTask(
                new WorkerTask(
                    task.GetProperty("task_id").GetString()!,
                    task.GetProperty("schedule_id").GetString()!,
                    task.GetProperty("license_id").GetString()!,
                    task.GetProperty("payload").Clone(),
                    task.GetProperty("attempt").GetInt32(),
                    DateTimeOffset.Parse(task.GetProperty("lease_expires_at").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)),
                task.GetProperty("lease_token").GetString()!));
        }
        return tasks;
    }

    /// <summary>Renews the lease once, without retrying (the next heartbeat is the retry).</summary>
    public Task<TaskCallOutcome> HeartbeatAsync(LeasedTask task, CancellationToken cancellationToken) =>
        TaskCallAsync(task, "heartbeat", w => w.WriteNumber("lease_seconds", _options.LeaseSeconds), maxRetries: 0, cancellationToken);

    public Task<TaskCallOutcome> RowsAsync(LeasedTask task, long batch, JsonValueList rows, CancellationToken cancellationToken) =>
        TaskCallAsync(task, "rows", w =>
        {
            w.WriteNumber("batch", batch);
            rows.WriteArray(w, "rows");
        }, _options.MaxRetries, cancellationToken);

    public Task<TaskCallOutcome> CompleteAsync(LeasedTask task, JsonValueList rows, JsonValueList subQueries, CancellationToken cancellationToken) =>
        TaskCallAsync(task, "complete", w =>
        {
            if (rows.Count > 0)
            {
                rows.WriteArray(w, "rows");
            }
            if (subQueries.Count > 0)
            {
                subQueries.WriteArray(w, "subqueries");
            }
        }, _options.MaxRetries, cancellationToken);

    public Task<TaskCallOutcome> FailAsync(LeasedTask task, string code, string message, bool retryable, CancellationToken cancellationToken) =>
        TaskCallAsync(task, "fail", w =>
        {
            w.WriteString("code", code);
            w.WriteString("message", message);
            w.WriteBoolean("retryable", retryable);
        }, _options.MaxRetries, cancellationToken);

    private async Task<TaskCallOutcome> TaskCallAsync(
        LeasedTask task, string verb, Action<Utf8JsonWriter> writeMembers, int maxRetries, CancellationToken cancellationToken)
    {
        var body = Json(w =>
        {
            w.WriteString("lease_token", task.LeaseToken);
            writeMembers(w);
        });
        var path = $"{TasksPath}/{Uri.EscapeDataString(task.Task.TaskId)}/{verb}";
        using var response = await SendAsync(verb, path, body, maxRetries, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return TaskCallOutcome.Applied;
        }
        if (response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
        {
            var error = await QueryStatusException.FromAsync(response, cancellationToken);
            logger.LogWarning("The {Call} call on task {TaskId} was refused ({Status} {ErrorCode}): {Description}",
                verb, task.Task.TaskId, error.StatusCode, error.Code, error.Description ?? error.ErrorMessage);
            return TaskCallOutcome.LeaseLost;
        }
        throw await RefusedAsync(verb, response, cancellationToken);
    }

    /// <summary>
    /// POSTs <paramref name="body"/>, retrying a 408, 429, 5xx, network failure or client timeout up to
    /// <paramref name="maxRetries"/> times; answers the first other response, or the last transient one.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(
        string call, string path, ReadOnlyMemory<byte> body, int maxRetries, CancellationToken cancellationToken)
    {
        for (var retry = 0; ; retry++)
        {
            HttpResponseMessage? response = null;
            Exception? failure = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ReadOnlyMemoryContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await CredentialAsync(cancellationToken));
                response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
                logger.LogDebug("POST {Path} answered {Status}", path, (int)response.StatusCode);
                if (!IsTransient(response.StatusCode))
                {
                    return response;
                }
            }
            catch (HttpRequestException e)
            {
                failure = e;
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = e; // HttpClient.Timeout
            }

            if (retry >= maxRetries)
            {
                if (response is not null)
                {
                    return response;
                }
                throw new TaskCallException($"The {call} call failed {retry + 1} times: {failure!.GetType().Name}.", null, null, transient: true, failure);
            }

            var delay = RetryDelay(response, retry);
            if (response is not null)
            {
                logger.LogWarning("The {Call} call answered {Status}; retrying in {Delay}", call, (int)response.StatusCode, delay);
                response.Dispose();
            }
            else
            {
                logger.LogWarning("The {Call} call failed ({Error}: {Message}); retrying in {Delay}", call, failure!.GetType().Name, failure.Message, delay);
            }
            await Task.Delay(delay, time, cancellationToken);
        }
    }

    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or HttpStatusCode.InternalServerError
            or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    /// <summary><c>Retry-After</c> when the answer has one (capped at MaxRetryDelay), else RetryDelay doubling each retry, with a little jitter.</summary>
    internal TimeSpan RetryDelay(HttpResponseMessage? response, int retry)
    {
        var max = _options.MaxRetryDelay;
        if (response?.Headers.RetryAfter is { } retryAfter)
        {
            var wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - time.GetUtcNow() : TimeSpan.Zero);
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > max ? max : wait;
        }
        var backoff = _options.RetryDelay * Math.Pow(2, Math.Min(retry, 20)) * (1 + Random.Shared.NextDouble() * 0.2);
        return backoff > max ? max : backoff;
    }

    private async ValueTask<string> CredentialAsync(CancellationToken cancellationToken) =>
        _options.TokenProvider is { } provider ? await provider(cancellationToken) : _options.ApiKey!;

    private static async Task<TaskCallException> RefusedAsync(string call, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var error = await QueryStatusException.FromAsync(response, cancellationToken);
        return new TaskCallException(
            $"The service refused the {call} call: {error.StatusCode} {error.Code} ({error.Description ?? error.ErrorMessage})",
            response.StatusCode, error.Code, transient: IsTransient(response.StatusCode), error);
    }

    private static ReadOnlyMemory<byte> Json(Action<Utf8JsonWriter> writeMembers)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writeMembers(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenMemory;
    }
}
