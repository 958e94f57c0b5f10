using System.Net;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Status;

/// <summary>
/// Helpers of the status endpoint tests only: URLs with any parameters, schedules in each state, envelope checks.
/// Clients, status calls and body readers are in <see cref="ClientKit"/>.
/// </summary>
internal static class StatusTestKit
{
    /// <summary>The status URL with each parameter URL-encoded, in the given order (names may repeat).</summary>
    public static string Url(params (string Name, string Value)[] parameters) =>
        parameters.Length == 0
            ? ClientKit.StatusPath
            : ClientKit.StatusPath + "?" + string.Join("&", parameters.Select(p => $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(p.Value)}"));

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
    /// Asserts a 400 BAD_REQUEST envelope whose description names <paramref name="parameter"/>; returns the description.
    /// </summary>
    public static async Task<string> AssertBadRequestNamingAsync(this HttpResponseMessage response, string parameter)
    {
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.NotNull(description);
        Assert.Contains(parameter, description, StringComparison.Ordinal);
        return description;
    }

    /// <summary>The text TestData.Rows stores for row <paramref name="i"/>.</summary>
    public static string DefaultRow(long i) => $"{{\"i\":{i},\"v\":\"row-{i}\"}}";
}
