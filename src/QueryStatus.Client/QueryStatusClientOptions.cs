using System.ComponentModel.DataAnnotations;

namespace QueryStatus.Client;

public sealed class QueryStatusClientOptions
{
    /// <summary>The service's base address, e.g. <c>http://localhost:5080</c>.</summary>
    [Required(ErrorMessage = "QueryStatusClientOptions.BaseAddress is required (the service's URL, e.g. http://localhost:5080).")]
    public Uri? BaseAddress { get; set; }

    /// <summary>An API key, sent as <c>Authorization: Bearer</c> (never in the URL, never logged). Or use <see cref="TokenProvider"/>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Gives a bearer token (a JWT) per request, for example from a token cache; used when <see cref="ApiKey"/> is not set.</summary>
    public Func<CancellationToken, ValueTask<string>>? TokenProvider { get; set; }

    /// <summary>How long each long-poll of <see cref="QueryStatusClient.WaitAsync"/> asks the server to wait (1–30 s).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:00:30", ErrorMessage = "QueryStatusClientOptions.LongPollWait must be between 1 and 30 seconds.")]
    public TimeSpan LongPollWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Between polls of a server that does not wait (the original API, which ignores <c>wait_seconds</c>):
    /// <see cref="QueryStatusClient.WaitAsync"/> then polls at this pace.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:10:00", ErrorMessage = "QueryStatusClientOptions.PollInterval must be between 100 ms and 10 minutes.")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Rows per page when reading a result; null takes the server's page cap (10,000 by default).</summary>
    [Range(1, 1_000_000, ErrorMessage = "QueryStatusClientOptions.PageSize must be between 1 and 1000000.")]
    public int? PageSize { get; set; }

    /// <summary>Retries of a 429 or 503 (honouring <c>Retry-After</c>) before its error surfaces.</summary>
    [Range(0, 20, ErrorMessage = "QueryStatusClientOptions.MaxRetries must be between 0 and 20.")]
    public int MaxRetries { get; set; } = 5;
}
