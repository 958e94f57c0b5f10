namespace QueryStatus.Api.Http;

/// <summary>The response headers this API adds, named once: features set them, CORS exposes them to browsers.</summary>
public static class ApiHeaders
{
    /// <summary>32 URL-safe characters, new per request; the same value as <c>meta.request_id</c>.</summary>
    public const string RequestId = "X-Request-Id";

    /// <summary>Requests allowed per window for the caller.</summary>
    public const string RateLimitLimit = "X-RateLimit-Limit";

    /// <summary>What is left of <see cref="RateLimitLimit"/> in the current window.</summary>
    public const string RateLimitRemaining = "X-RateLimit-Remaining";
}
