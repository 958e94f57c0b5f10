using Microsoft.Extensions.Options;

namespace QueryStatus.Worker;

/// <summary>
/// How a worker reaches the service and how it runs tasks. Bind it from configuration (the CsvWorker sample binds the
/// <c>QueryStatus</c> section) or set it in code; it is validated when the host starts.
/// </summary>
public sealed class QueryStatusWorkerOptions
{
    /// <summary>The service's base address, e.g. <c>http://localhost:5080</c> (a path prefix is kept).</summary>
    public string? BaseUrl { get; set; }

    /// <summary>A worker API key (scope <c>worker</c>), sent as <c>Authorization: Bearer</c>. Never logged. Or use <see cref="TokenProvider"/>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Gives a bearer token (a JWT with scope <c>worker</c>) for each call; it should cache the token itself.</summary>
    public Func<CancellationToken, ValueTask<string>>? TokenProvider { get; set; }

    /// <summary>The worker's name in the service's logs (1–100 characters). Default: machine name and process ID.</summary>
    public string WorkerId { get; set; } = DefaultWorkerId();

    /// <summary>Tasks run at once (1–100); the worker leases only as many as it has free slots. Default 4.</summary>
    public int MaxConcurrentTasks { get; set; } = 4;

    /// <summary>Lease length asked for (5–600 s); heartbeats renew it every third of it while a task runs. Default 60.</summary>
    public int LeaseSeconds { get; set; } = 60;

    /// <summary>How long a lease call waits on the server for a task to be ready (0–30 s). Default 20.</summary>
    public int LeaseWaitSeconds { get; set; } = 20;

    /// <summary>With <see cref="LeaseWaitSeconds"/> 0: the pause after a lease call that found nothing. Default 1 s.</summary>
    public TimeSpan IdleDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Rows per batch (≥ 1). Default 1,000.</summary>
    public int BatchRows { get; set; } = 1000;

    /// <summary>
    /// Bytes of rows per batch (≥ 1 KiB); a single row larger than this goes alone. Keep it below the service's
    /// <c>Scheduler:MaxRequestBodyBytes</c> (32 MiB by default). Default 1 MiB.
    /// </summary>
    public int BatchBytes { get; set; } = 1024 * 1024;

    /// <summary>Retries of one task call (rows, complete, fail) after a 429, a 5xx or a network error (0–100). Default 5.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>The first retry's delay when the answer names none (no <c>Retry-After</c>); it doubles each time. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between retries, <c>Retry-After</c> included. Default 30 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The interval between heartbeats: a third of the lease.</summary>
    public TimeSpan HeartbeatInterval => TimeSpan.FromSeconds(LeaseSeconds / 3.0);

    private static string DefaultWorkerId()
    {
        var id = $"{Environment.MachineName}-{Environment.ProcessId}";
        return id.Length <= 100 ? id : id[..100];
    }
}

/// <summary>Checks <see cref="QueryStatusWorkerOptions"/> at start-up; messages name settings, never their secret values.</summary>
internal sealed class QueryStatusWorkerOptionsValidator : IValidateOptions<QueryStatusWorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, QueryStatusWorkerOptions options)
    {
        var errors = new List<string>();
        if (!Uri.TryCreate(options.BaseUrl, UriKind.Absolute, out var baseUrl) || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add("QueryStatus:BaseUrl: required, an absolute http(s) address of the service.");
        }
        var hasKey = !string.IsNullOrWhiteSpace(options.ApiKey);
        if (hasKey == (options.TokenProvider is not null))
        {
            errors.Add("QueryStatus:ApiKey or a TokenProvider: exactly one is required (a credential with the worker scope).");
        }
        if (hasKey && options.ApiKey!.Any(char.IsControl))
        {
            errors.Add("QueryStatus:ApiKey: must not contain control characters.");
        }
        if (string.IsNullOrWhiteSpace(options.WorkerId) || options.WorkerId.Length > 100 || options.WorkerId.Any(char.IsControl))
        {
            errors.Add("QueryStatus:WorkerId: 1–100 characters, no control characters.");
        }
        Range(errors, "MaxConcurrentTasks", options.MaxConcurrentTasks, 1, 100);
        Range(errors, "LeaseSeconds", options.LeaseSeconds, 5, 600);
        Range(errors, "LeaseWaitSeconds", options.LeaseWaitSeconds, 0, 30);
        Range(errors, "BatchRows", options.BatchRows, 1, int.MaxValue);
        Range(errors, "BatchBytes", options.BatchBytes, 1024, 1024 * 1024 * 1024);
        Range(errors, "MaxRetries", options.MaxRetries, 0, 100);
        if (options.IdleDelay <= TimeSpan.Zero)
        {
            errors.Add("QueryStatus:IdleDelay: must be positive.");
        }
        if (options.RetryDelay <= TimeSpan.Zero || options.MaxRetryDelay < options.RetryDelay)
        {
            errors.Add("QueryStatus:RetryDelay must be positive and QueryStatus:MaxRetryDelay at least as long.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Range(List<string> errors, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(max == int.MaxValue ? $"QueryStatus:{name}: must be at least {min}." : $"QueryStatus:{name}: must be {min}–{max}.");
        }
    }
}
