using QueryStatus.Api.RateLimiting;

namespace QueryStatus.Api.Observability;

public static class CorsExtensions
{
    /// <summary>
    /// Any origin may call the API from a browser, with an Authorization header: credentials are
    /// explicit (never cookies), so allowing every origin exposes nothing a script could not send anyway.
    /// </summary>
    public static IServiceCollection AddQueryStatusCors(this IServiceCollection services) =>
        services.AddCors(o => o.AddDefaultPolicy(p => p
            .AllowAnyOrigin()
            .AllowAnyHeader()
            .WithMethods("GET", "POST", "OPTIONS")
            .WithExposedHeaders(RequestIdMiddleware.Header, ApiRateLimiter.LimitHeader, ApiRateLimiter.RemainingHeader, "Retry-After")
            .SetPreflightMaxAge(TimeSpan.FromHours(1))));
}
