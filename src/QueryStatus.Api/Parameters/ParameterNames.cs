using System.Collections.Frozen;

namespace QueryStatus.Api.Parameters;

/// <summary>The parameters the API reads, plain or inside <c>json</c>.</summary>
public static class ParameterNames
{
    public const string ScheduleId = "schedule_id";
    public const string OffsetStart = "offset_start";
    public const string OffsetEnd = "offset_end";
    public const string ApiKey = "api_key";
    public const string Pretty = "pretty";
    public const string WaitSeconds = "wait_seconds";

    /// <summary>Every name, each at its slot: <see cref="RequestParameters"/> keeps a request's values by slot.</summary>
    public static readonly IReadOnlyList<string> InOrder = [ScheduleId, OffsetStart, OffsetEnd, ApiKey, Pretty, WaitSeconds];

    /// <summary>Each name in any case (as the query string, <c>json</c> and the stop body match them) to its slot in <see cref="InOrder"/>.</summary>
    public static readonly FrozenDictionary<string, int> Slots =
        InOrder.Select((name, slot) => (name, slot)).ToFrozenDictionary(p => p.name, p => p.slot, StringComparer.OrdinalIgnoreCase);
}
