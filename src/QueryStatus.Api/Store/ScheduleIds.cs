using QueryStatus.Api.Http;

namespace QueryStatus.Api.Store;

/// <summary>What a schedule ID may be: the store keys schedules by it, and every request that names one is checked by it.</summary>
public static class ScheduleIds
{
    public const int MaxLength = 50;

    public const string Rule = "1–50 characters of " + UrlSafeText.Alphabet;

    public static bool IsValid(string? id) => UrlSafeText.Is(id, MaxLength);
}
