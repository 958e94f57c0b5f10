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

    public static readonly IReadOnlyCollection<string> All =
        new HashSet<string>([ScheduleId, OffsetStart, OffsetEnd, ApiKey, Pretty], StringComparer.Ordinal);

    /// <summary>Each name in any case (as the query string matches them) to the name as written here.</summary>
    public static readonly FrozenDictionary<string, string> Canonical =
        All.ToFrozenDictionary(name => name, name => name, StringComparer.OrdinalIgnoreCase);
}
