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

    public LicenseRateLimiter(IOptions<RateLimitingOptions> options)
    {
        _options = options.Value;
        Limiter = PartitionedRateLimiter.Create<HttpContext, string>(context => PartitionKey(context) is { } key
            ? RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = _options.PermitLimit,
                Window = _options.Window,
                QueueLimit = 0,
                AutoReplenishment = true,
            })
            : RateLimitPartition.GetNoLimiter(string.Empty));
    }

    public PartitionedRateLimiter<HttpContext> Limiter { get; }

    public int PermitLimit => _options.PermitLimit;

    public TimeSpan Window => _options.Window;

    /// <summary>Null for requests that are not limited: health probes and the API docs.</summary>
    public static string? PartitionKey(HttpContext context)
    {
        if (!IsLimited(context.Request.Path))
        {
            return null;
        }
        return context.User.LicenseIdOrNull() is { } license
            ? "license:" + license
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
    }

    public static bool IsLimited(PathString path) =>
        !path.StartsWithSegments("/healthz") && !path.StartsWithSegments("/readyz") && !path.StartsWithSegments("/swagger");

    public long Remaining(HttpContext context) => Limiter.GetStatistics(context)?.CurrentAvailablePermits ?? 0;

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
    /// Reports the caller's budget on every response it applies to, errors included. Must run before
    /// authentication: a request can fail there (a malformed api_key or json is a 400 thrown by the
    /// API-key handler) and never reach <see cref="UseLicenseRateLimiting"/>. The values are read when
    /// the response starts, so they are those of the caller's partition by then.
    /// </summary>
    public static IApplicationBuilder UseRateLimitHeaders(this IApplicationBuilder app)
    {
        var limiter = app.ApplicationServices.GetRequiredService<LicenseRateLimiter>();
        return app.Use((context, next) =>
        {
            if (LicenseRateLimiter.IsLimited(context.Request.Path))
            {
                context.Response.OnStarting(() =>
                {
                    var headers = context.Response.Headers;
                    headers[LicenseRateLimiter.LimitHeader] = limiter.PermitLimit.ToString(CultureInfo.InvariantCulture);
                    headers[LicenseRateLimiter.RemainingHeader] = limiter.Remaining(context).ToString(CultureInfo.InvariantCulture);
                    return Task.CompletedTask;
                });
            }
            return next(context);
        });
    }

    /// <summary>Limits requests. Runs after authentication so the partition is the caller's license.</summary>
    public static IApplicationBuilder UseLicenseRateLimiting(this IApplicationBuilder app) => app.UseRateLimiter();
}
