using Microsoft.Net.Http.Headers;
using QueryStatus.Api.Http;

namespace QueryStatus.Api.Cors;

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
            .WithExposedHeaders(ApiHeaders.RequestId, ApiHeaders.RateLimitLimit, ApiHeaders.RateLimitRemaining, HeaderNames.RetryAfter, HeaderNames.ETag)
            .SetPreflightMaxAge(TimeSpan.FromHours(1))));
}
