using System.Text.Json.Serialization;
using FluentValidation;

namespace QueryStatus.Api.Tasks;

public sealed class LeaseRequest
{
    [JsonPropertyName("worker_id")] public string? WorkerId { get; set; }

    /// <summary>1–100; default 1.</summary>
    [JsonPropertyName("max_tasks")] public int? MaxTasks { get; set; }

    /// <summary>5–600; default 60.</summary>
    [JsonPropertyName("lease_seconds")] public int? LeaseSeconds { get; set; }

    /// <summary>0–30; default 0 (answer at once).</summary>
    [JsonPropertyName("wait_seconds")] public int? WaitSeconds { get; set; }
}

public sealed class HeartbeatRequest
{
    [JsonPropertyName("lease_token")] public string? LeaseToken { get; set; }

    /// <summary>5–600; default 60: the lease then ends this long after the heartbeat.</summary>
    [JsonPropertyName("lease_seconds")] public int? LeaseSeconds { get; set; }
}

public sealed class RowsRequest
{
    [JsonPropertyName("lease_token")] public string? LeaseToken { get; set; }

    /// <summary>The batch's number within this lease; a repeated number is acknowledged without adding rows again.</summary>
    [JsonPropertyName("batch")] public long? Batch { get; set; }

    [JsonPropertyName("rows")] public RawJsonArray? Rows { get; set; }
}

public sealed class CompleteRequest
{
    [JsonPropertyName("lease_token")] public string? LeaseToken { get; set; }

    /// <summary>Last rows of the task, after any sent with /rows.</summary>
    [JsonPropertyName("rows")] public RawJsonArray? Rows { get; set; }

    /// <summary>Sub-queries the task discovered; they join the same query.</summary>
    [JsonPropertyName("subqueries")] public RawJsonArray? SubQueries { get; set; }
}

public sealed class FailRequest
{
    [JsonPropertyName("lease_token")] public string? LeaseToken { get; set; }
    [JsonPropertyName("code")] public string? Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }

    /// <summary>true: retry the task while attempts remain; false (default): the query fails.</summary>
    [JsonPropertyName("retryable")] public bool? Retryable { get; set; }
}

internal static class TaskRules
{
    public const int MaxTokenLength = 200;

    public static IRuleBuilderOptions<T, string?> LeaseToken<T>(this IRuleBuilder<T, string?> rule) =>
        rule.NotEmpty().WithMessage("lease_token: required, the token the lease call returned.")
            .MaximumLength(MaxTokenLength).WithMessage($"lease_token: at most {MaxTokenLength} characters.");

    public static IRuleBuilderOptions<T, int?> LeaseSeconds<T>(this IRuleBuilder<T, int?> rule) =>
        rule.InclusiveBetween(5, 600).WithMessage("lease_seconds: must be 5–600.");

    /// <summary>A name or code that goes into logs and answers as given: no control characters (a missing one is another rule's).</summary>
    public static IRuleBuilderOptions<T, string?> NoControlCharacters<T>(this IRuleBuilder<T, string?> rule, string field) =>
        rule.Must(value => value is null || !value.Any(char.IsControl)).WithMessage($"{field}: no control characters.");
}

public sealed class LeaseRequestValidator : AbstractValidator<LeaseRequest>
{
    public LeaseRequestValidator()
    {
        RuleFor(r => r.WorkerId)
            .NotEmpty().WithMessage("worker_id: required, a name for the worker (for logs).")
            .MaximumLength(100).WithMessage("worker_id: at most 100 characters.")
            .NoControlCharacters("worker_id");
        RuleFor(r => r.MaxTasks).InclusiveBetween(1, 100).WithMessage("max_tasks: must be 1–100.");
        RuleFor(r => r.LeaseSeconds).LeaseSeconds();
        RuleFor(r => r.WaitSeconds).InclusiveBetween(0, 30).WithMessage("wait_seconds: must be 0–30.");
    }
}

public sealed class HeartbeatRequestValidator : AbstractValidator<HeartbeatRequest>
{
    public HeartbeatRequestValidator()
    {
        RuleFor(r => r.LeaseToken).LeaseToken();
        RuleFor(r => r.LeaseSeconds).LeaseSeconds();
    }
}

public sealed class RowsRequestValidator : AbstractValidator<RowsRequest>
{
    public RowsRequestValidator()
    {
        RuleFor(r => r.LeaseToken).LeaseToken();
        RuleFor(r => r.Batch)
            .NotNull().WithMessage("batch: required, the batch's number within this lease (0, 1, 2, ...).")
            .GreaterThanOrEqualTo(0).WithMessage("batch: must be 0 or more.");
        RuleFor(r => r.Rows).NotNull().WithMessage("rows: required, an array of rows.");
    }
}

public sealed class CompleteRequestValidator : AbstractValidator<CompleteRequest>
{
    public CompleteRequestValidator()
    {
        RuleFor(r => r.LeaseToken).LeaseToken();
        RuleFor(r => r.SubQueries)
            .Must(s => s!.Count <= Submission.SubmitRequest.MaxSubQueries).When(r => r.SubQueries is not null)
            .WithMessage($"subqueries: at most {Submission.SubmitRequest.MaxSubQueries} per completion.");
    }
}

public sealed class FailRequestValidator : AbstractValidator<FailRequest>
{
    public FailRequestValidator()
    {
        RuleFor(r => r.LeaseToken).LeaseToken();
        RuleFor(r => r.Code)
            .NotEmpty().WithMessage("code: required, a stable error code such as DATA_SOURCE_ERROR.")
            .MaximumLength(100).WithMessage("code: at most 100 characters.")
            .NoControlCharacters("code");
        // Line breaks and tabs may be part of a message; NUL may not (PostgreSQL's text cannot hold it, and no store should
        // accept what another refuses).
        RuleFor(r => r.Message)
            .NotEmpty().WithMessage("message: required, what went wrong (shown to the query's owner).")
            .MaximumLength(2000).WithMessage("message: at most 2000 characters.")
            .Must(message => message is null || !message.Contains('\0', StringComparison.Ordinal))
            .WithMessage("message: no NUL character (U+0000).");
    }
}
