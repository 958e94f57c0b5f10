using System.Text.RegularExpressions;

namespace QueryStatus.Api.Store;

/// <summary>What a schedule ID may be: the store keys schedules by it, and every request that names one is checked by it.</summary>
public static partial class ScheduleIds
{
    public const string Rule = "1–50 characters of A-Z a-z 0-9 _ -";

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,50}\z", RegexOptions.CultureInvariant)]
    public static partial Regex Pattern();
}
