using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// A client's side of the write endpoints: request bodies, submit/stop/status calls and readers for the
/// status body. Sub-queries and rows are handled as raw JSON text, as a client would write them.
/// </summary>
internal static class SubmissionKit
{
    public const string SubmitPath = "/enterprise/v2/query/submit";
    public const string StopPath = "/enterprise/v2/query/stop";
    public const string StatusPath = "/enterprise/v2/query/status";

    /// <summary>Retention of finished runs (Store:Retention default).</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    /// <summary>
    /// A client with a JWT for <paramref name="licenseId"/> (and <paramref name="scope"/> as its scope claim when
    /// given) that stays valid for a month of the factory's clock, so tests may move time past retention.
    /// </summary>
    public static HttpClient CreateClientFor(this QueryStatusFactory factory, string? licenseId, string? scope = null)
    {
        var claims = scope is null ? null : new[] { new System.Security.Claims.Claim("scope", scope) };
        var token = TestJwt.Create(licenseId, now: factory.Time.GetUtcNow(), lifetime: TimeSpan.FromDays(30), extraClaims: claims);
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Sub-queries <c>{"q":0}</c>, <c>{"q":1}</c>, … as JSON text.</summary>
    public static string[] SubQueries(int count) => [.. Enumerable.Range(0, count).Select(i => $"{{\"q\":{i}}}")];

    /// <summary>A submit body; sub-queries are inserted as the raw JSON given.</summary>
    public static string SubmitBody(string? scheduleId, IEnumerable<string> subQueries, string? notBefore = null)
    {
        var fields = new List<string>();
        if (scheduleId is not null)
        {
            fields.Add($"\"schedule_id\":{JsonSerializer.Serialize(scheduleId)}");
        }
        fields.Add($"\"subqueries\":[{string.Join(",", subQueries)}]");
        if (notBefore is not null)
        {
            fields.Add($"\"not_before\":{JsonSerializer.Serialize(notBefore)}");
        }
        return "{" + string.Join(",", fields) + "}";
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>ISO 8601 UTC, as a client would write a start time.</summary>
    public static string Iso(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static Task<HttpResponseMessage> PostSubmitAsync(this HttpClient client, string body) =>
        client.PostAsync(SubmitPath, Json(body));

    /// <summary>Submits and asserts 202; returns the body.</summary>
    public static async Task<JsonElement> SubmitAsync(
        this HttpClient client, string? scheduleId, IEnumerable<string> subQueries, string? notBefore = null)
    {
        using var response = await client.PostSubmitAsync(SubmitBody(scheduleId, subQueries, notBefore));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"Expected 202, got {(int)response.StatusCode}: {text}");
        return Parse(text);
    }

    public static Task<JsonElement> SubmitAsync(this HttpClient client, string? scheduleId, int subQueries = 1, string? notBefore = null) =>
        client.SubmitAsync(scheduleId, SubQueries(subQueries), notBefore);

    /// <summary>POST stop with <c>schedule_id</c> as a query parameter and no body.</summary>
    public static Task<HttpResponseMessage> PostStopAsync(this HttpClient client, string scheduleId) =>
        client.PostAsync($"{StopPath}?schedule_id={Uri.EscapeDataString(scheduleId)}", content: null);

    /// <summary>Stops and asserts 200; returns the body.</summary>
    public static async Task<JsonElement> StopAsync(this HttpClient client, string scheduleId)
    {
        using var response = await client.PostStopAsync(scheduleId);
        return await response.ReadJsonAsync();
    }

    public static Task<HttpResponseMessage> GetStatusAsync(this HttpClient client, string scheduleId, string? extra = null) =>
        client.GetAsync(HttpAssertions.StatusUrl(scheduleId, extra));

    /// <summary>GETs the status and asserts 200; returns the body.</summary>
    public static async Task<JsonElement> StatusAsync(this HttpClient client, string scheduleId, string? extra = null)
    {
        using var response = await client.GetStatusAsync(scheduleId, extra);
        return await response.ReadJsonAsync();
    }

    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    // ---- reading a status body ---------------------------------------------------------------------

    public static JsonElement Meta(this JsonElement body) => body.GetProperty("meta");

    public static string ScheduleIdOf(this JsonElement body) => body.Meta().GetProperty("schedule_id").GetString()!;

    public static string StatusCodeOf(this JsonElement body) => body.Meta().GetProperty("status_code").GetString()!;

    public static (int Ready, int Total) Progress(this JsonElement body)
    {
        var progress = body.Meta().GetProperty("progress");
        return (progress.GetProperty("queries_ready").GetInt32(), progress.GetProperty("queries_total").GetInt32());
    }

    public static (int Scheduled, int Running) Workflow(this JsonElement body)
    {
        var workflow = body.Meta().GetProperty("workflow");
        return (workflow.GetProperty("tasks_scheduled").GetInt32(), workflow.GetProperty("tasks_running").GetInt32());
    }

    public static long TotalRows(this JsonElement body) => body.Meta().GetProperty("paging").GetProperty("total_rows").GetInt64();

    public static long? NextOffsetStart(this JsonElement body) =>
        body.Meta().GetProperty("paging").GetProperty("next_offset_start") is { ValueKind: JsonValueKind.Number } next
            ? next.GetInt64()
            : null;

    public static DateTimeOffset? ExpiresAt(this JsonElement body) =>
        body.Meta().TryGetProperty("expires_at", out var expires)
            ? DateTimeOffset.Parse(expires.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
            : null;

    public static IReadOnlyList<JsonElement> Data(this JsonElement body) => [.. body.GetProperty("data").EnumerateArray()];

    /// <summary>Reads every row of a SUCCESS run through the status endpoint, <paramref name="pageSize"/> rows a page.</summary>
    public static async Task<List<JsonElement>> ReadAllRowsAsync(this HttpClient client, string scheduleId, int pageSize)
    {
        var rows = new List<JsonElement>();
        long? offset = 0;
        var pages = 0;
        while (offset is { } start)
        {
            var page = await client.StatusAsync(scheduleId, $"offset_start={start}&offset_end={start + pageSize}");
            Assert.Equal("SUCCESS", page.StatusCodeOf());
            Assert.True(page.Data().Count <= pageSize);
            rows.AddRange(page.Data());
            offset = page.NextOffsetStart();
            Assert.True(++pages <= 1000, "paging does not end");
        }
        return rows;
    }

    /// <summary>The names of an element's properties, recursively, as paths: the shape of a JSON body.</summary>
    public static IReadOnlyList<string> Shape(JsonElement element, string path = "$")
    {
        var paths = new List<string> { $"{path}:{element.ValueKind}" };
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                paths.AddRange(Shape(property.Value, $"{path}.{property.Name}"));
            }
        }
        return paths;
    }

    /// <summary>Asserts the two JSON values are equal as JSON (not as text); shows both when they are not.</summary>
    public static void AssertJsonEqual(JsonElement expected, JsonElement actual) =>
        Assert.True(JsonElement.DeepEquals(expected, actual), $"Expected {expected.GetRawText()}, got {actual.GetRawText()}");

    public static void AssertJsonEqual(string expected, JsonElement actual) => AssertJsonEqual(Parse(expected), actual);
}
