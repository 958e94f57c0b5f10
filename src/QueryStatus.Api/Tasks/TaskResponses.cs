using System.Text.Json.Serialization;

namespace QueryStatus.Api.Tasks;

// Times are UTC DateTimes so they serialize as ...Z, like meta.expires_at.

public sealed record LeaseResponse([property: JsonPropertyName("tasks")] IReadOnlyList<LeasedTaskDoc> Tasks);

public sealed record LeasedTaskDoc(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("schedule_id")] string ScheduleId,
    [property: JsonPropertyName("license_id")] string LicenseId,
    [property: JsonPropertyName("payload"), System.ComponentModel.Description("The sub-query exactly as submitted: any JSON value (null for a seeded task).")] RawJson Payload,
    [property: JsonPropertyName("attempt")] int Attempt,
    [property: JsonPropertyName("lease_token")] string LeaseToken,
    [property: JsonPropertyName("lease_expires_at")] DateTime LeaseExpiresAt);

/// <summary>The answer to every task call: the task's state afterwards.</summary>
public sealed record TaskCallResponse(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("state"), System.ComponentModel.Description("RUNNING (lease live), DONE, QUEUED (will be retried) or FAILED (the query failed).")] string State,
    [property: JsonPropertyName("attempt")] int Attempt,
    [property: JsonPropertyName("lease_expires_at")] DateTime? LeaseExpiresAt,
    [property: JsonPropertyName("duplicate"), System.ComponentModel.Description("true when this repeated a call already applied; nothing changed.")] bool Duplicate,
    [property: JsonPropertyName("rows_accepted"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? RowsAccepted = null);
