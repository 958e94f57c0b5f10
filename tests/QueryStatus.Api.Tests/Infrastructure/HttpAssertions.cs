using System.Net;
using System.Text.Json;

namespace QueryStatus.Api.Tests.Infrastructure;

public static class HttpAssertions
{
    /// <summary>
    /// Asserts the response is the shared error envelope with <paramref name="status"/> and
    /// <paramref name="code"/>, its request id matching X-Request-Id, and returns error.description.
    /// </summary>
    public static async Task<string?> AssertEnvelopeAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);

        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        Assert.Equal(["error", "meta"], root.EnumerateObject().Select(p => p.Name).Order());
        var requestId = root.GetProperty("meta").GetProperty("request_id").GetString();
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), requestId);

        var error = root.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.All(error.EnumerateObject(), p => Assert.Contains(p.Name, new[] { "code", "message", "description" }));
        Assert.DoesNotContain("Exception", body);
        Assert.DoesNotContain("   at ", body);
        return error.TryGetProperty("description", out var description) ? description.GetString() : null;
    }

    /// <summary>
    /// Asserts <paramref name="call"/> answers a 409 CONFLICT_ERROR envelope whose description contains
    /// <paramref name="descriptionContains"/> when given.
    /// </summary>
    public static async Task AssertConflictAsync(this Task<HttpResponseMessage> call, string? descriptionContains = null)
    {
        using var response = await call;
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        if (descriptionContains is not null)
        {
            Assert.Contains(descriptionContains, description);
        }
    }

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"Expected success, got {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        return json.RootElement.Clone();
    }

    public static string StatusUrl(string scheduleId, string? extra = null) =>
        $"/enterprise/v2/query/status?schedule_id={scheduleId}" + (extra is null ? "" : "&" + extra);
}
