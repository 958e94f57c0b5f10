using System.Net;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>Builds status requests that present a credential one way or another, and checks auth failures.</summary>
internal static class AuthRequests
{
    /// <summary>
    /// GET /enterprise/v2/query/status for <paramref name="scheduleId"/>, with <paramref name="apiKey"/>
    /// (URL-encoded) as a plain parameter and/or <paramref name="authorization"/> as the whole
    /// Authorization header value, when given.
    /// </summary>
    public static HttpRequestMessage Status(string scheduleId, string? apiKey = null, string? authorization = null)
    {
        var url = HttpAssertions.StatusUrl(scheduleId, apiKey is null ? null : "api_key=" + Uri.EscapeDataString(apiKey));
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        return request;
    }

    /// <summary>The same request with every parameter inside one URL-encoded <c>json</c> object.</summary>
    public static HttpRequestMessage StatusAsJson(string scheduleId, string apiKey)
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["schedule_id"] = scheduleId,
            ["api_key"] = apiKey,
        });
        return new HttpRequestMessage(HttpMethod.Get, "/enterprise/v2/query/status?json=" + Uri.EscapeDataString(json));
    }

    public static string Bearer(string token) => "Bearer " + token;

    public static async Task<HttpResponseMessage> SendAsync(this QueryStatusFactory factory, HttpRequestMessage request)
    {
        using var client = factory.CreateClient();
        using (request)
        {
            return await client.SendAsync(request);
        }
    }

    /// <summary>Asserts a 401 UNAUTHORIZED envelope carrying a Bearer WWW-Authenticate challenge; returns the description.</summary>
    public static async Task<string?> AssertUnauthorizedAsync(this HttpResponseMessage response)
    {
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        var challenges = response.Headers.WwwAuthenticate.ToList();
        Assert.NotEmpty(challenges);
        Assert.Contains(challenges, c => string.Equals(c.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase));
        return description;
    }

    /// <summary>Asserts a 403 FORBIDDEN envelope; returns the description.</summary>
    public static Task<string?> AssertForbiddenAsync(this HttpResponseMessage response) =>
        response.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");

    /// <summary>Asserts neither the body nor any response header repeats <paramref name="secret"/>.</summary>
    public static async Task AssertDoesNotRevealAsync(this HttpResponseMessage response, string secret)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
        // Nor in its JSON-escaped form (non-ASCII characters are written as \uXXXX).
        Assert.DoesNotContain(System.Text.Json.JsonSerializer.Serialize(secret).Trim('"'), body, StringComparison.Ordinal);
        foreach (var header in response.Headers.Concat(response.Content.Headers))
        {
            Assert.All(header.Value, v => Assert.DoesNotContain(secret, v, StringComparison.Ordinal));
        }
    }

    /// <summary>The earlier of the real clock and the factory's fake clock.</summary>
    public static DateTimeOffset EarlierClock(QueryStatusFactory factory)
    {
        var real = DateTimeOffset.UtcNow;
        var fake = factory.Time.GetUtcNow();
        return real < fake ? real : fake;
    }

    /// <summary>
    /// A JWT for <paramref name="licenseId"/> whose lifetime covers both the real clock and the factory's
    /// fake clock (JwtBearer checks lifetime against its own clock, which need not be the app's
    /// TimeProvider), so that only what a test changes through the other arguments can make it fail.
    /// </summary>
    public static string Jwt(
        QueryStatusFactory factory,
        string? licenseId,
        string issuer = TestJwt.Issuer,
        string audience = TestJwt.Audience,
        byte[]? signingKey = null)
    {
        var gap = (DateTimeOffset.UtcNow - factory.Time.GetUtcNow()).Duration();
        return TestJwt.Create(licenseId, EarlierClock(factory), issuer, audience, signingKey,
            lifetime: gap + TimeSpan.FromHours(1));
    }

    /// <summary>
    /// An unsigned (<c>alg: none</c>) token with the right issuer, audience and a lifetime covering both
    /// clocks, so that the missing signature is the only thing wrong with it.
    /// </summary>
    public static string UnsignedJwt(QueryStatusFactory factory, string licenseId)
    {
        static string B64(object value) =>
            Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(value));
        var earlier = EarlierClock(factory);
        var gap = (DateTimeOffset.UtcNow - factory.Time.GetUtcNow()).Duration();
        var header = B64(new Dictionary<string, object> { ["alg"] = "none", ["typ"] = "JWT" });
        var payload = B64(new Dictionary<string, object>
        {
            ["sub"] = "test-user",
            ["license_id"] = licenseId,
            ["iss"] = TestJwt.Issuer,
            ["aud"] = TestJwt.Audience,
            ["nbf"] = earlier.AddMinutes(-5).ToUnixTimeSeconds(),
            ["exp"] = (earlier + gap).AddHours(1).ToUnixTimeSeconds(),
        });
        return $"{header}.{payload}.";
    }
}
