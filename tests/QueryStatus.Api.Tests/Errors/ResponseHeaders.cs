using System.Globalization;
using System.Text.Json;

namespace QueryStatus.Api.Tests.Errors;

/// <summary>Assertions on the headers every response of the service carries.</summary>
public static class ResponseHeaders
{
    public const string RequestIdPattern = @"^[A-Za-z0-9_-]{32}\z";

    /// <summary>Asserts one well-formed X-Request-Id and returns it.</summary>
    public static string AssertRequestId(this HttpResponseMessage response)
    {
        Assert.True(response.Headers.TryGetValues("X-Request-Id", out var values), $"No X-Request-Id on a {(int)response.StatusCode}.");
        var id = Assert.Single(values);
        Assert.Matches(RequestIdPattern, id);
        return id;
    }

    /// <summary>Asserts X-Request-Id equals the body's meta.request_id (any JSON body with meta) and returns it.</summary>
    public static async Task<string> AssertRequestIdMatchesBodyAsync(this HttpResponseMessage response)
    {
        var id = response.AssertRequestId();
        var body = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body);
        Assert.Equal(id, json.RootElement.GetProperty("meta").GetProperty("request_id").GetString());
        return id;
    }

    public static void AssertAllowsAnyOrigin(this HttpResponseMessage response)
    {
        Assert.True(response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values),
            $"No Access-Control-Allow-Origin on a {(int)response.StatusCode}.");
        Assert.Equal("*", Assert.Single(values));
    }

    /// <summary>Asserts X-RateLimit-Limit and X-RateLimit-Remaining are present and sane; returns both.</summary>
    public static (long Limit, long Remaining) AssertRateLimitHeaders(this HttpResponseMessage response)
    {
        var limit = ReadLong(response, "X-RateLimit-Limit");
        var remaining = ReadLong(response, "X-RateLimit-Remaining");
        Assert.InRange(limit, 1, long.MaxValue);
        Assert.InRange(remaining, 0, limit);
        return (limit, remaining);
    }

    public static void AssertNoRateLimitHeaders(this HttpResponseMessage response)
    {
        Assert.False(response.Headers.Contains("X-RateLimit-Limit"), "Unexpected X-RateLimit-Limit.");
        Assert.False(response.Headers.Contains("X-RateLimit-Remaining"), "Unexpected X-RateLimit-Remaining.");
    }

    public static string Single(this HttpResponseMessage response, string header)
    {
        Assert.True(response.Headers.TryGetValues(header, out var values), $"No {header} on a {(int)response.StatusCode}.");
        return Assert.Single(values);
    }

    private static long ReadLong(HttpResponseMessage response, string header)
    {
        var text = response.Single(header);
        Assert.True(long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value), $"{header} is not a non-negative integer: '{text}'.");
        return value;
    }
}
