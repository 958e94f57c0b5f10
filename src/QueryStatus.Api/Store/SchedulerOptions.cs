using System.ComponentModel.DataAnnotations;

namespace QueryStatus.Api.Store;

public sealed class SchedulerOptions
{
    public const string Section = "Scheduler";

    /// <summary>Most tasks one license may have running at once, unless <c>Licenses:&lt;id&gt;:MaxConcurrentTasks</c> says otherwise.</summary>
    [Range(1, 100_000, ErrorMessage = "Scheduler:DefaultMaxConcurrentTasks must be between 1 and 100000.")]
    public int DefaultMaxConcurrentTasks { get; set; } = 10;

    /// <summary>How many times a task may be leased (first run plus retries and expired leases).</summary>
    [Range(1, 100, ErrorMessage = "Scheduler:MaxAttempts must be between 1 and 100.")]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How long a run may take from the moment it is queued before it fails with QUERY_TIMEOUT.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00", ErrorMessage = "Scheduler:MaxRunTime must be between 1 second and 30 days.")]
    public TimeSpan MaxRunTime { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Most result rows one run may produce before it fails with RESULT_TOO_LARGE.</summary>
    [Range(1, 1_000_000_000, ErrorMessage = "Scheduler:MaxRowsPerRun must be between 1 and 1000000000.")]
    public long MaxRowsPerRun { get; set; } = 1_000_000;

    /// <summary>Largest request body a worker call may send.</summary>
    [Range(1024, 1024L * 1024 * 1024, ErrorMessage = "Scheduler:MaxRequestBodyBytes must be between 1 KiB and 1 GiB.")]
    public long MaxRequestBodyBytes { get; set; } = 32 * 1024 * 1024;
}

/// <summary>Per-license settings under <c>Licenses:&lt;license id&gt;</c>.</summary>
public sealed class LicenseOptions
{
    [Range(1, 100_000, ErrorMessage = "Licenses:<id>:MaxConcurrentTasks must be between 1 and 100000.")]
    public int? MaxConcurrentTasks { get; set; }
}

/// <summary>All of <c>Licenses</c>, keyed by license id.</summary>
public sealed class LicensesOptions : Dictionary<string, LicenseOptions>
{
    public const string Section = "Licenses";

    public LicensesOptions() : base(StringComparer.Ordinal)
    {
    }
}
