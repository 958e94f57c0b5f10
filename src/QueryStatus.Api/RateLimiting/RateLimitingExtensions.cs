using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Errors;

namespace QueryStatus.Api.RateLimiting;

/// <summary>
/// The framework's fixed-window limiter, partitioned per license (per client IP for requests without
/// a valid credential). We hold the partitioned limiter ourselves so that the X-RateLimit-Remaining
/// header can read the caller's partition.
/// </summary>
public sealed class LicenseRateLimiter : IDisposable
{
    public const string LimitHeader = "X-RateLimit-Limit";
    public const string RemainingHeader = "X-RateLimit-Remaining";

    private readonly RateLimitingOptions _options;

    // "license:<id>" per license, built once: partition keys are computed twice per request (acquire, statistics).
    private static readonly ConcurrentDictionary<string, string> LicenseKeys = new(StringComparer.Ordinal);

    public LicenseRateLimiter(IOptions<RateLimitingOptions> options)
    {
        _options = options.Value;
        PermitLimitText = _options.PermitLimit.ToString(CultureInfo.InvariantCulture);
        var window = new FixedWindowRateLimiterOptions
        {
            PermitLimit = _options.PermitLimit,
            Window = _options.Window,
            QueueLimit = 0,
            // The partitioned limiter's one heartbeat replenishes every partition (as GetFixedWindowLimiter sets
            // it up): no timer per license or client IP.
            AutoReplenishment = false,
        };
        // One factory for every partition: the partitioner runs twice per request (acquire, statistics), and
        // RateLimitPartition.GetFixedWindowLimiter would allocate two delegates each time.
        Func<string, RateLimiter> newWindow = _ => new FixedWindowRateLimiter(window);
        Limiter = PartitionedRateLimiter.Create<HttpContext, string>(context => PartitionKey(context) is { } key
            ? RateLimitPartition.Get(key, newWindow)
            : RateLimitPartition.GetNoLimiter(string.Empty));
    }

    public PartitionedRateLimiter<HttpContext> Limiter { get; }

    public int PermitLimit => _options.PermitLimit;

    /// <summary><see cref="PermitLimit"/> as the header value.</summary>
    public string PermitLimitText { get; }

    public TimeSpan Window => _options.Window;

    /// <summary>Null for requests that are not limited: health probes and the API docs.</summary>
    public static string? PartitionKey(HttpContext context)
    {
        if (!IsLimited(context.Request.Path))
        {
            return null;
        }
        return context.User.LicenseIdOrNull() is { } license
            ? LicenseKey(license)
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
    }

    private static string LicenseKey(string license)
    {
        if (LicenseKeys.TryGetValue(license, out var key))
        {
            return key;
        }
        key = "license:" + license;
        // Licenses come from validated credentials; the cap only guards against an issuer minting endless ones.
        return LicenseKeys.Count < 100_000 ? LicenseKeys.GetOrAdd(license, key) : key;
    }

    public static bool IsLimited(PathString path) =>
        !path.StartsWithSegments("/healthz") && !path.StartsWithSegments("/readyz") && !path.StartsWithSegments("/swagger");

    public long Remaining(HttpContext context) => Limiter.GetStatistics(context)?.CurrentAvailablePermits ?? 0;

    /// <summary>
    /// Sets X-RateLimit-Limit and X-RateLimit-Remaining when the response starts (whatever answers it, the
    /// exception handler included), read from the partition of the caller known by then.
    /// </summary>
    public void ReportBudgetOnStarting(HttpContext context) =>
        context.Response.OnStarting(static state =>
        {
            var (limiter, http) = ((LicenseRateLimiter, HttpContext))state;
            var headers = http.Response.Headers;
            headers[LimitHeader] = limiter.PermitLimitText;
            headers[RemainingHeader] = limiter.Remaining(http).ToString(CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }, (this, context));

    public void Dispose() => Limiter.Dispose();
}

public static class RateLimitingExtensions
{
    public static IServiceCollection AddLicenseRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimitingOptions>().BindConfiguration(RateLimitingOptions.Section)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<LicenseRateLimiter>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<LicenseRateLimiter>((o, limiter) =>
        {
            o.GlobalLimiter = limiter.Limiter;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (context, _) =>
            {
                var http = context.HttpContext;
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : limiter.Window;
                var seconds = (long)Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return new ValueTask(ErrorEnvelope.WriteAsync(http, StatusCodes.Status429TooManyRequests,
                    $"At most {limiter.PermitLimit} requests per {limiter.Window} are allowed; retry in {seconds} s."));
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
            if (LicenseRateLimiter.IsLimited(context.Request.Path))
            {
                // Resolved per request, not while the pipeline is declared: resolving it reads (and validates)
                // RateLimitingOptions, and a bad value must fail in host start-up, where RunOrReportAsync reports it.
                context.RequestServices.GetRequiredService<LicenseRateLimiter>().ReportBudgetOnStarting(context);
            }
            return next(context);
        });
        return app;
    }

    /// <summary>Limits requests. Runs after authentication so the partition is the caller's license.</summary>
    public static IApplicationBuilder UseLicenseRateLimiting(this IApplicationBuilder app) => app.UseRateLimiter();
}
