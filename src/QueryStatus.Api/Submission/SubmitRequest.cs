using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Submission;

/// <summary>The body of <c>POST /enterprise/v2/query/submit</c>.</summary>
public sealed class SubmitRequest
{
    public const int MaxSubQueries = 10_000;

    /// <summary>The schedule ID to run under; the server makes one when it is left out.</summary>
    [JsonPropertyName("schedule_id")]
    public string? ScheduleId { get; set; }

    /// <summary>The sub-queries, each any JSON value, handed to a worker exactly as given.</summary>
    [JsonPropertyName("subqueries")]
    public List<JsonElement>? SubQueries { get; set; }

    /// <summary>ISO 8601 time before which the run waits as SCHEDULED.</summary>
    [JsonPropertyName("not_before")]
    public string? NotBefore { get; set; }

    public static bool TryParseTime(string? text, out DateTimeOffset time) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
}

public sealed class SubmitRequestValidator : AbstractValidator<SubmitRequest>
{
    public SubmitRequestValidator()
    {
        RuleFor(r => r.ScheduleId)
            .Matches(ParameterRules.ScheduleId()).When(r => r.ScheduleId is not null)
            .WithMessage($"schedule_id: must be {ParameterRules.ScheduleIdRule} (or left out to get a generated one).");
        RuleFor(r => r.SubQueries)
            .NotNull().WithMessage("subqueries: required, an array of 1–10000 sub-queries.")
            .Must(s => s!.Count is >= 1 and <= SubmitRequest.MaxSubQueries)
            // Only this rule: a When applies to every earlier rule of the chain by default, which would skip NotNull.
            .When(r => r.SubQueries is not null, ApplyConditionTo.CurrentValidator)
            .WithMessage($"subqueries: must hold 1–{SubmitRequest.MaxSubQueries} sub-queries.");
        RuleFor(r => r.NotBefore)
            .Must(t => SubmitRequest.TryParseTime(t, out _)).When(r => r.NotBefore is not null)
            .WithMessage("not_before: must be an ISO 8601 time such as 2026-11-29T10:00:00Z.");
    }
}
