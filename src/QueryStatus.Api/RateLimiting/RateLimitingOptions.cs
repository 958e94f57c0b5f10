using System.ComponentModel.DataAnnotations;

namespace QueryStatus.Api.RateLimiting;

public sealed class RateLimitingOptions
{
    public const string Section = "RateLimiting";

    /// <summary>Requests each license (or, unauthenticated, each client IP) may make per window.</summary>
    [Range(1, 100_000_000, ErrorMessage = "RateLimiting:PermitLimit must be between 1 and 100000000.")]
    public int PermitLimit { get; set; } = 600;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "RateLimiting:Window must be between 1 second and 1 day.")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}
