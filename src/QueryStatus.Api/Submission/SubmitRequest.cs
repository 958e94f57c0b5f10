using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using FluentValidation;
using QueryStatus.Api.Http;
using QueryStatus.Api.Parameters;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Submission;

/// <summary>The body of <c>POST /enterprise/v2/query/submit</c>.</summary>
public sealed partial class SubmitRequest
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

    /// <summary>
    /// An ISO 8601 date and time with its offset (<c>Z</c> or <c>±hh:mm</c>): "12:00" or a date alone would be
    /// read against some machine's clock and time zone, not the client's intent.
    /// </summary>
    public static bool TryParseTime(string? text, out DateTimeOffset time)
    {
        time = default;
        return text is not null
               && Iso8601().IsMatch(text)
               && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out time);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})\z", RegexOptions.CultureInvariant)]
    private static partial Regex Iso8601();
}

public sealed class SubmitRequestValidator : AbstractValidator<SubmitRequest>
{
    public SubmitRequestValidator()
    {
        RuleFor(r => r.ScheduleId)
            .Must(ScheduleIds.IsValid).When(r => r.ScheduleId is not null)
            .WithMessage($"schedule_id: must be {ScheduleIds.Rule} (or left out to get a generated one).");
        RuleFor(r => r.SubQueries)
            .NotNull().WithMessage("subqueries: required, an array of 1–10000 sub-queries.")
            .Must(s => s!.Count is >= 1 and <= SubmitRequest.MaxSubQueries)
            // Only this rule: a When applies to every earlier rule of the chain by default, which would skip NotNull.
            .When(r => r.SubQueries is not null, ApplyConditionTo.CurrentValidator)
            .WithMessage($"subqueries: must hold 1–{SubmitRequest.MaxSubQueries} sub-queries.");
        RuleForEach(r => r.SubQueries)
            .Must(s => JsonText.IsReadable(JsonMarshal.GetRawUtf8Value(s)))
            .WithMessage($"subqueries: each must be {JsonText.Rule}.");
        RuleFor(r => r.NotBefore)
            .Must(t => SubmitRequest.TryParseTime(t, out _)).When(r => r.NotBefore is not null)
            .WithMessage("not_before: must be an ISO 8601 date and time with its offset, such as 2026-11-29T10:00:00Z.");
    }
}
