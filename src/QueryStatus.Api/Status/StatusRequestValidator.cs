using FluentValidation;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Status;

public sealed class StatusRequestValidator : AbstractValidator<StatusRequest>, Errors.ValidationFilter.IQuickCheck
{
    private readonly int _maxRows;

    public StatusRequestValidator(IOptions<PagingOptions> paging)
    {
        var maxRows = _maxRows = paging.Value.MaxRows;

        RuleFor(r => r.ScheduleId)
            .NotEmpty().WithMessage("schedule_id: required.")
            .Matches(ParameterRules.ScheduleId()).WithMessage($"schedule_id: must be {ParameterRules.ScheduleIdRule}.");

        RuleFor(r => r.OffsetStartText)
            .Must(BeAnOffset!).When(r => r.OffsetStartText is not null)
            .WithMessage($"offset_start: must be an integer from 0 to {ParameterRules.OffsetMax}.");

        RuleFor(r => r.OffsetEndText)
            .Must(BeAnOffset!).When(r => r.OffsetEndText is not null)
            .WithMessage($"offset_end: must be an integer from 0 to {ParameterRules.OffsetMax}.");

        // Cross-field rules only once both offsets are known to be numbers in range.
        When(r => IsOffset(r.OffsetStartText ?? "0") && r.OffsetEndText is not null && IsOffset(r.OffsetEndText), () =>
        {
            RuleFor(r => r.OffsetEnd)
                .Must((r, end) => end >= r.OffsetStart)
                .WithMessage("offset_end: must not be less than offset_start (offset_end is exclusive).");
            RuleFor(r => r.OffsetEnd)
                .Must((r, end) => end - r.OffsetStart <= maxRows)
                .WithMessage($"offset_end: the window offset_end - offset_start may be at most {maxRows} rows (the page cap).");
        });

        RuleFor(r => r.ApiKey)
            .Matches(ParameterRules.ApiKey()).When(r => r.ApiKey is not null)
            .WithMessage($"api_key: must be {ParameterRules.ApiKeyRule}.");

        RuleFor(r => r.PrettyText)
            .Must(p => p is "true" or "false").When(r => r.PrettyText is not null)
            .WithMessage("pretty: must be true or false.");
    }

    /// <summary>
    /// The rules above, as one expression, for the polling path: a request passing it breaks none of them (the
    /// validation filter then skips the full run); anything else is left to the rules, which describe it.
    /// </summary>
    public bool IsClearlyValid(object value) =>
        value is StatusRequest r
        && r.ScheduleId is not null && ParameterRules.ScheduleId().IsMatch(r.ScheduleId)
        && (r.OffsetStartText is null || IsOffset(r.OffsetStartText))
        && (r.OffsetEndText is null || (IsOffset(r.OffsetEndText) && r.OffsetEnd >= r.OffsetStart && r.OffsetEnd - r.OffsetStart <= _maxRows))
        && (r.ApiKey is null || ParameterRules.ApiKey().IsMatch(r.ApiKey))
        && r.PrettyText is (null or "true" or "false");

    private static bool BeAnOffset(string text) => IsOffset(text);

    private static bool IsOffset(string text) =>
        ParameterRules.TryParseInteger(text, out var value) && value is >= 0 and <= ParameterRules.OffsetMax;
}
