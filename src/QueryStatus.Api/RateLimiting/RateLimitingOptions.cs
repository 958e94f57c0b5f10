using System.ComponentModel.DataAnnotations;

namespace QueryStatus.Api.RateLimiting;

public sealed class RateLimitingOptions
{
    public const string Section = "RateLimiting";

    /// <summary>Requests each license (or, without a valid credential, each client IP) may make per window.</summary>
    [Range(1, 100_000_000, ErrorMessage = "RateLimiting:PermitLimit must be between 1 and 100000000.")]
    public int PermitLimit { get; set; } = 600;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "RateLimiting:Window must be between 1 second and 1 day.")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The budget of each worker credential (<c>RateLimiting:Workers</c>): workers serve every license, so they are
/// limited per credential, never per license or per address.
/// </summary>
public sealed class WorkerRateLimitingOptions
{
    public const string Section = "RateLimiting:Workers";

    /// <summary>
    /// 60,000 a minute (1,000 requests a second) per worker credential: one busy worker process that leases 10 tasks
    /// at a time and sends each task's rows in a few batches makes 5–10 calls a task, so this lets it finish 100–200
    /// tasks a second, more than a worker that actually queries a data source does; it stops a runaway loop (a lease
    /// call with <c>wait_seconds</c> 0 spinning) long before it costs the service. A fleet gives each worker process
    /// its own key or token, or raises this.
    /// </summary>
    [Range(1, 100_000_000, ErrorMessage = "RateLimiting:Workers:PermitLimit must be between 1 and 100000000.")]
    public int PermitLimit { get; set; } = 60_000;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "RateLimiting:Workers:Window must be between 1 second and 1 day.")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}
