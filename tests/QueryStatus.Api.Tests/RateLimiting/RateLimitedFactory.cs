using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.RateLimiting;

/// <summary>The real host with 3 requests per hour per license (or client IP): a window no test outlives.</summary>
public sealed class RateLimitedFactory : QueryStatusFactory
{
    public const int PermitLimit = 3;

    public static IReadOnlyDictionary<string, string?> LimitSettings { get; } = new Dictionary<string, string?>
    {
        ["RateLimiting:PermitLimit"] = "3",
        ["RateLimiting:Window"] = "01:00:00",
    };

    public RateLimitedFactory() => Settings = LimitSettings;
}
