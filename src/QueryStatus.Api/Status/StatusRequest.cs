using System.Reflection;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Status;

/// <summary>
/// The status endpoint's parameters as the client sent them, plain or inside <c>json</c>. Kept as
/// text so that <see cref="StatusRequestValidator"/> can name each rule that a value breaks.
/// </summary>
public sealed class StatusRequest
{
    public const string ScheduleIdName = "schedule_id";
    public const string OffsetStartName = "offset_start";
    public const string OffsetEndName = "offset_end";
    public const string ApiKeyName = "api_key";
    public const string PrettyName = "pretty";

    public static readonly IReadOnlyCollection<string> Names =
        new HashSet<string>([ScheduleIdName, OffsetStartName, OffsetEndName, ApiKeyName, PrettyName], StringComparer.Ordinal);

    public string? ScheduleId { get; init; }
    public string? OffsetStartText { get; init; }
    public string? OffsetEndText { get; init; }
    public string? ApiKey { get; init; }
    public string? PrettyText { get; init; }

    public long OffsetStart => ParameterRules.TryParseInteger(OffsetStartText, out var value) ? value : 0;

    public long? OffsetEnd => ParameterRules.TryParseInteger(OffsetEndText, out var value) ? value : null;

    public bool Pretty => string.Equals(PrettyText, "true", StringComparison.OrdinalIgnoreCase);

    public static ValueTask<StatusRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var values = RequestParameters.For(context, Names);
        return ValueTask.FromResult<StatusRequest?>(new StatusRequest
        {
            ScheduleId = values[ScheduleIdName],
            OffsetStartText = values[OffsetStartName],
            OffsetEndText = values[OffsetEndName],
            ApiKey = values[ApiKeyName],
            PrettyText = values[PrettyName],
        });
    }
}
