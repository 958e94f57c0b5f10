using System.Reflection;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Status;

/// <summary>
/// The status endpoint's parameters as the client sent them, plain or inside <c>json</c>. Kept as
/// text so that <see cref="StatusRequestValidator"/> can name each rule that a value breaks.
/// </summary>
public sealed class StatusRequest
{
    public string? ScheduleId { get; init; }
    public string? OffsetStartText { get; init; }
    public string? OffsetEndText { get; init; }
    public string? ApiKey { get; init; }
    public string? PrettyText { get; init; }
    public string? WaitSecondsText { get; init; }

    public long OffsetStart => ParameterRules.TryParseInteger(OffsetStartText, out var value) ? value : 0;

    public long? OffsetEnd => ParameterRules.TryParseInteger(OffsetEndText, out var value) ? value : null;

    public bool Pretty => string.Equals(PrettyText, "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>How long the client will wait for a change (long-poll); 0, the default, answers at once.</summary>
    public TimeSpan Wait => TimeSpan.FromSeconds(ParameterRules.TryParseInteger(WaitSecondsText, out var value) ? value : 0);

    public static ValueTask<StatusRequest?> BindAsync(HttpContext context, ParameterInfo parameter) =>
        ValueTask.FromResult<StatusRequest?>(From(RequestParameters.For(context)));

    public static StatusRequest From(RequestParameters values) =>
        new()
        {
            ScheduleId = values[ParameterNames.ScheduleId],
            OffsetStartText = values[ParameterNames.OffsetStart],
            OffsetEndText = values[ParameterNames.OffsetEnd],
            ApiKey = values[ParameterNames.ApiKey],
            PrettyText = values[ParameterNames.Pretty],
            WaitSecondsText = values[ParameterNames.WaitSeconds],
        };
}
