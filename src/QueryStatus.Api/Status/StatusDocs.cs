using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace QueryStatus.Api.Status;

// These records describe the wire format for OpenAPI only: the endpoint writes its body directly
// (see StatusResult), so the field names here must match what that writer produces.

[Description("Status and results of a query.")]
public sealed record StatusResponseDoc(
    [property: JsonPropertyName("meta")] StatusMetaDoc Meta,
    [property: JsonPropertyName("data"), Description("Query results: rows [offset_start, offset_end) exactly as stored; an empty array when not in SUCCESS state.")]
    IReadOnlyList<JsonElement> Data);

public sealed record StatusMetaDoc(
    [property: JsonPropertyName("request_id"), Description("API request ID (also in the X-Request-Id header).")] string RequestId,
    [property: JsonPropertyName("schedule_id"), Description("Query schedule ID.")] string ScheduleId,
    [property: JsonPropertyName("status_code"), Description("Status code for the query: SCHEDULED, QUEUED, RUNNING, SUCCESS, FAILURE or STOPPED.")] string StatusCode,
    [property: JsonPropertyName("progress")] ProgressDoc Progress,
    [property: JsonPropertyName("workflow")] WorkflowDoc Workflow,
    [property: JsonPropertyName("paging")] PagingDoc Paging,
    [property: JsonPropertyName("failure"), Description("Present only when status_code is FAILURE.")] FailureDoc? Failure,
    [property: JsonPropertyName("expires_at"), Description("When a finished query's results expire (ISO 8601 UTC); present only once finished.")] DateTimeOffset? ExpiresAt);

public sealed record ProgressDoc(
    [property: JsonPropertyName("queries_ready"), Description("Number of sub-queries performed for this query.")] int QueriesReady,
    [property: JsonPropertyName("queries_total"), Description("Number of sub-queries scheduled for this query (can increase as query progresses).")] int QueriesTotal);

public sealed record WorkflowDoc(
    [property: JsonPropertyName("tasks_scheduled"), Description("Number of query tasks scheduled to your license queue.")] int TasksScheduled,
    [property: JsonPropertyName("tasks_running"), Description("Number of query tasks running in your license queue.")] int TasksRunning);

public sealed record PagingDoc(
    [property: JsonPropertyName("offset_start"), Description("Index of the first row in data.")] long OffsetStart,
    [property: JsonPropertyName("offset_end"), Description("Index after the last row in data (exclusive).")] long OffsetEnd,
    [property: JsonPropertyName("total_rows"), Description("Rows in the whole result; 0 until SUCCESS.")] long TotalRows,
    [property: JsonPropertyName("next_offset_start"), Description("offset_start of the next page; null on the last page.")] long? NextOffsetStart);

public sealed record FailureDoc(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message);
