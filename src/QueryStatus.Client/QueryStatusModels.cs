using System.Text.Json;
using System.Text.Json.Serialization;

namespace QueryStatus.Client;

/// <summary>A query's status as one answer of the status endpoint showed it (its <c>meta</c>; rows are read separately).</summary>
public sealed record QueryState
{
    [JsonPropertyName("request_id")] public string RequestId { get; init; } = "";
    [JsonPropertyName("schedule_id")] public string ScheduleId { get; init; } = "";

    /// <summary><c>SCHEDULED</c>, <c>QUEUED</c>, <c>RUNNING</c>, <c>SUCCESS</c>, <c>FAILURE</c> or <c>STOPPED</c> (see <see cref="QueryStatusCodes"/>).</summary>
    [JsonPropertyName("status_code")] public string StatusCode { get; init; } = "";
    [JsonPropertyName("progress")] public QueryProgress Progress { get; init; } = new();
    [JsonPropertyName("workflow")] public QueryWorkflow Workflow { get; init; } = new();
    [JsonPropertyName("paging")] public QueryPaging Paging { get; init; } = new();
    [JsonPropertyName("failure")] public QueryFailure? Failure { get; init; }
    [JsonPropertyName("expires_at")] public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The ETag of the answer (null from a server that sends none, such as the original API).</summary>
    [JsonIgnore] public string? ETag { get; init; }

    /// <summary>True once the query ended: <c>SUCCESS</c>, <c>FAILURE</c> or <c>STOPPED</c>.</summary>
    [JsonIgnore] public bool IsFinished => QueryStatusCodes.IsFinished(StatusCode);
}

public sealed record QueryProgress
{
    [JsonPropertyName("queries_ready")] public int QueriesReady { get; init; }
    [JsonPropertyName("queries_total")] public int QueriesTotal { get; init; }
}

public sealed record QueryWorkflow
{
    [JsonPropertyName("tasks_scheduled")] public int TasksScheduled { get; init; }
    [JsonPropertyName("tasks_running")] public int TasksRunning { get; init; }
}

public sealed record QueryPaging
{
    [JsonPropertyName("offset_start")] public long OffsetStart { get; init; }
    [JsonPropertyName("offset_end")] public long OffsetEnd { get; init; }
    [JsonPropertyName("total_rows")] public long TotalRows { get; init; }
    [JsonPropertyName("next_offset_start")] public long? NextOffsetStart { get; init; }
}

public sealed record QueryFailure
{
    [JsonPropertyName("code")] public string Code { get; init; } = "";
    [JsonPropertyName("message")] public string Message { get; init; } = "";
}

/// <summary>What <see cref="QueryStatusClient.WaitAsync"/> reports as a query advances.</summary>
public readonly record struct WaitProgress(string StatusCode, int QueriesReady, int QueriesTotal);

public static class QueryStatusCodes
{
    public const string Scheduled = "SCHEDULED";
    public const string Queued = "QUEUED";
    public const string Running = "RUNNING";
    public const string Success = "SUCCESS";
    public const string Failure = "FAILURE";
    public const string Stopped = "STOPPED";

    public static bool IsFinished(string statusCode) => statusCode is Success or Failure or Stopped;
}

/// <summary>
/// The service answered with an error: the envelope's <c>code</c>, <c>message</c>, <c>description</c> and
/// <c>request_id</c> (quote it when reporting a problem), and the HTTP status.
/// </summary>
public sealed class QueryStatusException(int statusCode, string code, string errorMessage, string? description, string? requestId)
    : Exception(description is null ? $"{statusCode} {code}: {errorMessage}" : $"{statusCode} {code}: {errorMessage} {description}")
{
    public int StatusCode { get; } = statusCode;
    public string Code { get; } = code;
    public string ErrorMessage { get; } = errorMessage;
    public string? Description { get; } = description;
    public string? RequestId { get; } = requestId;

    /// <summary>
    /// Reads an error answer; one that is not the envelope (a proxy's page) keeps its status and a generic code. The one
    /// reader of the envelope on the client side: the worker library reads the task protocol's refusals with it too.
    /// </summary>
    public static async Task<QueryStatusException> FromAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            using var json = JsonDocument.Parse(body);
            var error = json.RootElement.GetProperty("error");
            var requestId = json.RootElement.TryGetProperty("meta", out var meta) && meta.TryGetProperty("request_id", out var id) ? id.GetString() : null;
            return new QueryStatusException(status,
                error.GetProperty("code").GetString() ?? "",
                error.GetProperty("message").GetString() ?? "",
                error.TryGetProperty("description", out var description) ? description.GetString() : null,
                requestId ?? Header(response, "X-Request-Id"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new QueryStatusException(status, "HTTP_" + status, response.ReasonPhrase ?? "The request failed.", null, Header(response, "X-Request-Id"));
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}

/// <summary><see cref="QueryStatusClient.ReadRowsAsync"/> of a query that has not succeeded: it has no rows to read.</summary>
public sealed class QueryNotSucceededException(QueryState state)
    : Exception(state.Failure is { } failure
        ? $"Query '{state.ScheduleId}' is {state.StatusCode} ({failure.Code}: {failure.Message}); only a SUCCESS query has rows."
        : $"Query '{state.ScheduleId}' is {state.StatusCode}; only a SUCCESS query has rows.")
{
    public QueryState State { get; } = state;
}
