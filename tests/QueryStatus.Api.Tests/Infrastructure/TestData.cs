using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>Per-test schedules: every call makes a fresh schedule ID, so tests never see each other's data.</summary>
public static class TestData
{
    public static string NewScheduleId(string prefix = "s") => $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(50, prefix.Length + 33)];

    public static string NewLicenseId() => $"lic_{Guid.NewGuid():N}";

    /// <summary>Rows <c>{"i":0,"v":"row-0"}</c>, <c>{"i":1,...}</c> … as stored bytes.</summary>
    public static RowBuffer Rows(int count, Func<int, string>? row = null)
    {
        var buffer = new RowBuffer();
        for (var i = 0; i < count; i++)
        {
            buffer.Append(System.Text.Encoding.UTF8.GetBytes(row?.Invoke(i) ?? $"{{\"i\":{i},\"v\":\"row-{i}\"}}"));
        }
        return buffer;
    }

    public static ScheduleRecord Success(string licenseId, int rows = 3, string? scheduleId = null, DateTimeOffset? finishedAt = null) =>
        new(scheduleId ?? NewScheduleId(), licenseId, ScheduleStatus.Success,
            [SubQueryState.Done, SubQueryState.Done], Rows(rows), null, finishedAt);

    public static ScheduleRecord Running(string licenseId, string? scheduleId = null, params SubQueryState[] subQueries) =>
        new(scheduleId ?? NewScheduleId(), licenseId, ScheduleStatus.Running,
            subQueries.Length > 0 ? subQueries : [SubQueryState.Done, SubQueryState.Running, SubQueryState.Queued],
            RowBuffer.Empty, null, null);

    public static ScheduleRecord Failed(string licenseId, string code = "DATA_SOURCE_ERROR", string message = "It broke.", DateTimeOffset? finishedAt = null) =>
        new(NewScheduleId(), licenseId, ScheduleStatus.Failure, [SubQueryState.Done], RowBuffer.Empty,
            new Failure(code, message), finishedAt);

    public static async Task<ScheduleRecord> PutAsync(this QueryStatusFactory factory, ScheduleRecord record)
    {
        await factory.Store.PutAsync(record, CancellationToken.None);
        return record;
    }
}
