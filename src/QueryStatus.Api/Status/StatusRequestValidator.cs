using FluentValidation;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Parameters;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Status;

public sealed class StatusRequestValidator : AbstractValidator<StatusRequest>
{
    /// <summary>The longest a status request may wait for a change: under the 60 s idle timeouts of common proxies.</summary>
    public const int MaxWaitSeconds = 30;

    public StatusRequestValidator(IOptions<PagingOptions> paging)
    {
        var maxRows = paging.Value.MaxRows;

        RuleFor(r => r.ScheduleId)
            .NotEmpty().WithMessage("schedule_id: required.")
            .Must(id => id is null || ScheduleIds.IsValid(id)).WithMessage($"schedule_id: must be {ScheduleIds.Rule}.");

        RuleFor(r => r.OffsetStartText)
            .Must(BeAnOffset!).When(r => r.OffsetStartText is not null)
            .WithMessage($"offset_start: must be an integer from 0 to {ParameterRules.OffsetMax}.");

        // The cross-field rules only once both offsets are numbers in range (Stop: the first broken rule is the answer).
        // Conditions on the rule's parts, not a When(...) block: a block keeps a per-request cache of its condition, a
        // tenth of a poll's allocations.
        RuleFor(r => r.OffsetEndText)
            .Cascade(CascadeMode.Stop)
            .Must(BeAnOffset!)
            .WithMessage($"offset_end: must be an integer from 0 to {ParameterRules.OffsetMax}.")
            .Must((r, _) => r.OffsetEnd >= r.OffsetStart)
            .When(r => IsOffset(r.OffsetStartText ?? "0"), ApplyConditionTo.CurrentValidator)
            .WithMessage("offset_end: must not be less than offset_start (offset_end is exclusive).")
            .Must((r, _) => r.OffsetEnd - r.OffsetStart <= maxRows)
            .When(r => IsOffset(r.OffsetStartText ?? "0"), ApplyConditionTo.CurrentValidator)
            .WithMessage($"offset_end: the window offset_end - offset_start may be at most {maxRows} rows (the page cap).")
            .When(r => r.OffsetEndText is not null);

        RuleFor(r => r.ApiKey)
            .Must(ParameterRules.IsApiKey).When(r => r.ApiKey is not null)
            .WithMessage($"api_key: must be {ParameterRules.ApiKeyRule}.");

        RuleFor(r => r.WaitSecondsText)
            .Must(w => ParameterRules.TryParseInteger(w, out var seconds) && seconds is >= 0 and <= MaxWaitSeconds)
            .When(r => r.WaitSecondsText is not null)
            .WithMessage($"wait_seconds: must be an integer from 0 to {MaxWaitSeconds}.");

        RuleFor(r => r.PrettyText)
            .Must(p => p is "true" or "false").When(r => r.PrettyText is not null)
            .WithMessage("pretty: must be true or false.");
    }

    private static bool BeAnOffset(string text) => IsOffset(text);

    private static bool IsOffset(string text) =>
        ParameterRules.TryParseInteger(text, out var value) && value is >= 0 and <= ParameterRules.OffsetMax;
}
