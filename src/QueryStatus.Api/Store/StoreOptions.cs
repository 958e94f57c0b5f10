using System.ComponentModel.DataAnnotations;

namespace QueryStatus.Api.Store;

public sealed class StoreOptions
{
    public const string Section = "Store";

    /// <summary>A JSON file of schedules loaded at start-up (see the README for its shape).</summary>
    public string? SeedFile { get; set; }

    /// <summary>How long a finished schedule stays readable after it finished.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00", ErrorMessage = "Store:Retention must be between 1 second and 3650 days.")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(1);

    public const string InMemoryProvider = "InMemory";
    public const string PostgresProvider = "Postgres";

    /// <summary>Where schedules live: <c>InMemory</c> (one process, nothing to install) or <c>Postgres</c> (durable, shared by instances).</summary>
    public string Provider { get; set; } = InMemoryProvider;

    /// <summary><c>ConnectionStrings:QueryStatus</c>, the Npgsql connection string of the <c>Postgres</c> provider.</summary>
    public string? ConnectionString { get; set; }

    public PostgresStoreOptions Postgres { get; set; } = new();

    /// <summary>How often finished, expired schedules are swept out of memory.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Store:SweepInterval must be between 1 second and 1 day.")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}

public sealed class PostgresStoreOptions
{
    /// <summary>Apply the schema scripts at start-up (under an advisory lock); off where the schema is migrated separately.</summary>
    public bool Migrate { get; set; } = true;

    /// <summary>
    /// Row bytes of succeeded results' pages each instance keeps once it has read them twice, so that a page polled
    /// again and again is not sent by the database each time, and pages read ahead for a client paging through a
    /// result (0: none kept, none read ahead).
    /// </summary>
    public int PageCacheMegabytes { get; set; } = 64;
}
