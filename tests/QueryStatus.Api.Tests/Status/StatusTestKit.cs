using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Status;

/// <summary>Shared helpers of the status endpoint tests: URLs, schedules in each state, envelope checks.</summary>
internal static class StatusTestKit
{
    public const string StatusPath = "/enterprise/v2/query/status";

    /// <summary>The status URL with each parameter URL-encoded, in the given order (names may repeat).</summary>
    public static string Url(params (string Name, string Value)[] parameters) =>
        parameters.Length == 0
            ? StatusPath
            : StatusPath + "?" + string.Join("&", parameters.Select(p => $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(p.Value)}"));

    /// <summary>The status URL with <paramref name="json"/> URL-encoded in <c>json</c>, then any plain parameters.</summary>
    public static string JsonUrl(string json, params (string Name, string Value)[] plain) => Url([("json", json), .. plain]);

    /// <summary>A consistent schedule in <paramref name="status"/> (see ScheduleRecord.Validate).</summary>
    public static ScheduleRecord InState(
        string licenseId, ScheduleStatus status, string? scheduleId = null, DateTimeOffset? finishedAt = null, int rows = 3)
    {
        var id = scheduleId ?? TestData.NewScheduleId();
        return status switch
        {
            ScheduleStatus.Scheduled => new(id, licenseId, status, [SubQueryState.Queued, SubQueryState.Queued], RowBuffer.Empty, null, null),
            ScheduleStatus.Queued => new(id, licenseId, status, [SubQueryState.Queued], RowBuffer.Empty, null, null),
            ScheduleStatus.Running => new(id, licenseId, status,
                [SubQueryState.Done, SubQueryState.Running, SubQueryState.Queued], RowBuffer.Empty, null, null),
            ScheduleStatus.Success => new(id, licenseId, status,
                [SubQueryState.Done, SubQueryState.Done], TestData.Rows(rows), null, finishedAt),
            ScheduleStatus.Failure => new(id, licenseId, status,
                [SubQueryState.Done], RowBuffer.Empty, new Failure("DATA_SOURCE_ERROR", "The data source refused the query."), finishedAt),
            ScheduleStatus.Stopped => new(id, licenseId, status, [SubQueryState.Done], RowBuffer.Empty, null, finishedAt),
            _ => throw new ArgumentOutOfRangeException(nameof(status)),
        };
    }

    public static readonly TheoryData<ScheduleStatus> AllStates = new(Enum.GetValues<ScheduleStatus>());

    public static readonly TheoryData<ScheduleStatus> StatesWithoutData = new(Enum.GetValues<ScheduleStatus>().Where(s => s != ScheduleStatus.Success));

    public static readonly TheoryData<ScheduleStatus> FinishedStates = new(ScheduleStatus.Success, ScheduleStatus.Failure, ScheduleStatus.Stopped);

    public static readonly TheoryData<ScheduleStatus> UnfinishedStates = new(ScheduleStatus.Scheduled, ScheduleStatus.Queued, ScheduleStatus.Running);

    /// <summary>
    /// A client that sends a valid JWT for <paramref name="licenseId"/>, like
    /// <see cref="QueryStatusFactory.CreateClientWithJwt"/>, but valid for 30 days of the service's clock
    /// (which JwtBearer uses too), so tests can move time past retention and keep calling.
    /// </summary>
    public static HttpClient CreateJwtClient(this QueryStatusFactory factory, string licenseId)
    {
        var token = TestJwt.Create(licenseId, now: factory.Time.GetUtcNow(), lifetime: TimeSpan.FromDays(30));
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// Asserts a 400 BAD_REQUEST envelope whose description names <paramref name="parameter"/>; returns the description.
    /// </summary>
    public static async Task<string> AssertBadRequestNamingAsync(this HttpResponseMessage response, string parameter)
    {
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.NotNull(description);
        Assert.Contains(parameter, description, StringComparison.Ordinal);
        return description;
    }

    /// <summary>GETs <paramref name="url"/>, asserts a 200 and returns the parsed body.</summary>
    public static async Task<JsonElement> GetOkAsync(this HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        return await response.ReadJsonAsync();
    }

    public static JsonElement Meta(this JsonElement body) => body.GetProperty("meta");

    public static JsonElement Paging(this JsonElement body) => body.GetProperty("meta").GetProperty("paging");

    public static long? NextOffsetStart(this JsonElement body) =>
        body.Paging().GetProperty("next_offset_start") is { ValueKind: JsonValueKind.Number } next ? next.GetInt64() : null;

    /// <summary>The rows of <c>data</c> as the raw JSON text the response carried.</summary>
    public static List<string> RawRows(this JsonElement body) =>
        [.. body.GetProperty("data").EnumerateArray().Select(r => r.GetRawText())];

    /// <summary>The text TestData.Rows stores for row <paramref name="i"/>.</summary>
    public static string DefaultRow(long i) => $"{{\"i\":{i},\"v\":\"row-{i}\"}}";
}
