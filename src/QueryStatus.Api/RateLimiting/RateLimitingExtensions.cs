using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Http;

namespace QueryStatus.Api.RateLimiting;

/// <summary>
/// The framework's fixed-window limiter, partitioned by who is calling: a worker credential (API key or JWT with the
/// <c>worker</c> scope) has a budget of its own (<see cref="WorkerRateLimitingOptions"/>); any other credential is
/// counted against its license; a request without a valid credential against its client IP. We hold the partitioned
/// limiter ourselves so that the X-RateLimit-* headers can read the caller's partition.
/// </summary>
public sealed class ApiRateLimiter : IDisposable
{
    /// <summary>Licenses and worker credentials come from validated credentials; the cap only guards against an issuer minting endless ones.</summary>
    private const int MaxCachedKeys = 100_000;

    private readonly Budget _clients;
    private readonly Budget _workers;

    // Partition keys ("license:<id>", "worker:<credential>") built once each: they are computed twice per request
    // (acquire, statistics).
    private readonly ConcurrentDictionary<string, string> _licenseKeys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _workerKeys = new(StringComparer.Ordinal);

    public ApiRateLimiter(IOptions<RateLimitingOptions> options, IOptions<WorkerRateLimitingOptions> workers)
    {
        _reportBudget = ReportBudget;
        _clients = new Budget(options.Value.PermitLimit, options.Value.Window);
        _workers = new Budget(workers.Value.PermitLimit, workers.Value.Window);
        Limiter = PartitionedRateLimiter.Create<HttpContext, string>(context => Partition(context) is var (key, budget)
            ? RateLimitPartition.Get(key, budget.NewWindow)
            : RateLimitPartition.GetNoLimiter(string.Empty));
    }

    public PartitionedRateLimiter<HttpContext> Limiter { get; }

    /// <summary>The limit and window that apply to <paramref name="context"/>'s caller as known now.</summary>
    public Budget BudgetOf(HttpContext context) => Partition(context)?.Budget ?? _clients;

    /// <summary>
    /// The caller's partition, worked out once per request and caller: the limiter asks for it when it acquires, and
    /// the headers ask twice more when the response starts.
    /// </summary>
    private (string Key, Budget Budget)? Partition(HttpContext context)
    {
        if (!IsLimited(context.Request.Path))
        {
            return null;
        }
        var user = context.User;
        if (context.Features.Get<PartitionOfRequest>() is { } known && ReferenceEquals(known.User, user))
        {
            return (known.Key, known.Budget);
        }
        var (key, budget) = PartitionOf(context, user);
        context.Features.Set(new PartitionOfRequest(user, key, budget));
        return (key, budget);
    }

    private sealed record PartitionOfRequest(System.Security.Claims.ClaimsPrincipal User, string Key, Budget Budget);

    private (string Key, Budget Budget) PartitionOf(HttpContext context, System.Security.Claims.ClaimsPrincipal user)
    {
        if (user.HasScope(Scopes.Worker) && user.CredentialOrNull() is { } credential)
        {
            return (CachedKey(_workerKeys, "worker:", credential), _workers);
        }
        if (user.LicenseIdOrNull() is { } license)
        {
            return (CachedKey(_licenseKeys, "license:", license), _clients);
        }
        return ("ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown"), _clients);
    }

    private static string CachedKey(ConcurrentDictionary<string, string> keys, string prefix, string id)
    {
        if (keys.TryGetValue(id, out var key))
        {
            return key;
        }
        key = prefix + id;
        return keys.Count < MaxCachedKeys ? keys.GetOrAdd(id, key) : key;
    }

    public static bool IsLimited(PathString path) =>
        !path.StartsWithSegments("/healthz") && !path.StartsWithSegments("/readyz") && !path.StartsWithSegments("/swagger");

    public long Remaining(HttpContext context) => Limiter.GetStatistics(context)?.CurrentAvailablePermits ?? 0;

    /// <summary>
    /// Sets X-RateLimit-Limit and X-RateLimit-Remaining when the response starts (whatever answers it, the
    /// exception handler included), read from the partition of the caller known by then.
    /// </summary>
    public void ReportBudgetOnStarting(HttpContext context) => context.Response.OnStarting(_reportBudget, context);

    // Made once: a callback or state tuple per request showed in a poll's allocations.
    private readonly Func<object, Task> _reportBudget;

    private Task ReportBudget(object state)
    {
        var http = (HttpContext)state;
        var headers = http.Response.Headers;
        headers[ApiHeaders.RateLimitLimit] = BudgetOf(http).PermitLimitText;
        headers[ApiHeaders.RateLimitRemaining] = Remaining(http).ToString(CultureInfo.InvariantCulture);
        return Task.CompletedTask;
    }

    public void Dispose() => Limiter.Dispose();

    /// <summary>One kind of partition's fixed window.</summary>
    public sealed class Budget
    {
        public Budget(int permitLimit, TimeSpan window)
        {
            PermitLimit = permitLimit;
            Window = window;
            PermitLimitText = permitLimit.ToString(CultureInfo.InvariantCulture);
            var options = new FixedWindowRateLimiterOptions
            {
                PermitLimit = permitLimit,
                Window = window,
                QueueLimit = 0,
                // The partitioned limiter's one heartbeat replenishes every partition (as GetFixedWindowLimiter sets
                // it up): no timer per license, credential or client IP.
                AutoReplenishment = false,
            };
            // One factory per kind: RateLimitPartition.GetFixedWindowLimiter would allocate two delegates per call.
            NewWindow = _ => new FixedWindowRateLimiter(options);
        }

        public int PermitLimit { get; }

        public TimeSpan Window { get; }

        /// <summary><see cref="PermitLimit"/> as the header value.</summary>
        public string PermitLimitText { get; }

        public Func<string, RateLimiter> NewWindow { get; }
    }
}

public static class RateLimitingExtensions
{
    public static IServiceCollection AddLicenseRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimitingOptions>().BindConfiguration(RateLimitingOptions.Section)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<WorkerRateLimitingOptions>().BindConfiguration(WorkerRateLimitingOptions.Section)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ApiRateLimiter>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<ApiRateLimiter>((o, limiter) =>
        {
            o.GlobalLimiter = limiter.Limiter;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (context, _) =>
            {
                var http = context.HttpContext;
                var budget = limiter.BudgetOf(http);
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : budget.Window;
                var seconds = (long)Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return new ValueTask(ErrorEnvelope.WriteAsync(http, StatusCodes.Status429TooManyRequests,
                    $"At most {budget.PermitLimit} requests per {budget.Window} are allowed; retry in {seconds} s."));
            };
        });
        return services;
    }

    /// <summary>
    /// Reports the caller's budget on every response it applies to, errors included. Runs before
    /// authentication so that failures raised there (a malformed api_key or json) carry the headers too;
    /// the budget is read when the response starts, by then from the caller's partition.
    /// </summary>
    public static IApplicationBuilder UseRateLimitHeaders(this IApplicationBuilder app)
    {
        app.Use((context, next) =>
        {
            if (ApiRateLimiter.IsLimited(context.Request.Path))
            {
                // Resolved per request, not while the pipeline is declared: resolving it reads (and validates)
                // RateLimitingOptions, and a bad value must fail in host start-up, where RunOrReportAsync reports it.
                context.RequestServices.GetRequiredService<ApiRateLimiter>().ReportBudgetOnStarting(context);
            }
            return next(context);
        });
        return app;
    }

    /// <summary>Limits requests. Runs after authentication so the partition is the caller's license.</summary>
    public static IApplicationBuilder UseLicenseRateLimiting(this IApplicationBuilder app) => app.UseRateLimiter();
}
