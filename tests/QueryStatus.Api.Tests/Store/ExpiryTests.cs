using System.Net;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store;

/// <summary>Retention and sweeping on the fake clock; every test moves time, so each has its own host.</summary>
public sealed class ExpiryTests
{
    private static readonly string License = TestKeys.Primary.LicenseId;
    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    private static ScheduleRecord Finished(ScheduleStatus status, DateTimeOffset? finishedAt, string? scheduleId = null) => status switch
    {
        ScheduleStatus.Success => TestData.Success(License, rows: 2, scheduleId: scheduleId, finishedAt: finishedAt),
        ScheduleStatus.Failure => TestData.Failed(License, finishedAt: finishedAt) with { ScheduleId = scheduleId ?? TestData.NewScheduleId() },
        ScheduleStatus.Stopped => new ScheduleRecord(scheduleId ?? TestData.NewScheduleId(), License, ScheduleStatus.Stopped,
            [SubQueryState.Done], RowBuffer.Empty, null, finishedAt),
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    private static async Task AssertServedAsync(HttpClient client, string scheduleId, string status)
    {
        var body = await client.StatusAsync(scheduleId);
        Assert.Equal(status, body.StatusCode());
    }

    private static async Task AssertExpiredAsync(HttpClient client, string scheduleId)
    {
        using var response = await client.GetStatusAsync(scheduleId);
        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Theory]
    [InlineData(ScheduleStatus.Success, "SUCCESS")]
    [InlineData(ScheduleStatus.Failure, "FAILURE")]
    [InlineData(ScheduleStatus.Stopped, "STOPPED")]
    public async Task FinishedScheduleAnswersUntilOneHourAfterFinishedAtThenIsNotFound(ScheduleStatus status, string wire)
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateClientWithApiKey();
        var finishedAt = factory.Time.GetUtcNow() - TimeSpan.FromMinutes(10);
        var schedule = await factory.PutAsync(Finished(status, finishedAt));

        var first = await client.StatusAsync(schedule.ScheduleId);
        Assert.Equal(wire, first.StatusCode());
        Assert.Equal(finishedAt + TimeSpan.FromHours(1), first.ExpiresAt());

        factory.Time.Advance(TimeSpan.FromMinutes(50) - OneSecond);
        await AssertServedAsync(client, schedule.ScheduleId, wire);

        factory.Time.Advance(OneSecond);
        await AssertExpiredAsync(client, schedule.ScheduleId);

        factory.Time.Advance(TimeSpan.FromDays(1));
        await AssertExpiredAsync(client, schedule.ScheduleId);
    }

    [Fact]
    public async Task ConfiguredRetentionDecidesWhenAFinishedScheduleExpires()
    {
        using var factory = new QueryStatusFactory { Settings = new Dictionary<string, string?> { ["Store:Retention"] = "00:10:00" } };
        using var client = factory.CreateClientWithApiKey();
        var loadedAt = factory.Time.GetUtcNow();
        var schedule = await factory.PutAsync(TestData.Success(License));

        Assert.Equal(loadedAt + TimeSpan.FromMinutes(10), (await client.StatusAsync(schedule.ScheduleId)).ExpiresAt());

        factory.Time.Advance(TimeSpan.FromMinutes(10) - OneSecond);
        await AssertServedAsync(client, schedule.ScheduleId, "SUCCESS");

        factory.Time.Advance(OneSecond);
        await AssertExpiredAsync(client, schedule.ScheduleId);
    }

    [Fact]
    public async Task SeededFinishedAtAndConfiguredRetentionSetTheExpiry()
    {
        // Finished 11:55, retention 10 minutes: readable until 12:05 on a clock that starts at 12:00.
        using var seed = TempSeedFile.WithSchedules(
            """{"schedule_id": "seed_expiring", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "data": [1], "finished_at": "2026-11-29T11:55:00Z"}""");
        using var factory = seed.CreateFactory(("Store:Retention", "00:10:00"));
        using var client = factory.CreateClientWithApiKey();

        Assert.Equal("2026-11-29T12:05:00Z",
            (await client.StatusAsync("seed_expiring")).GetProperty("meta").GetProperty("expires_at").GetString());

        factory.Time.Advance(TimeSpan.FromMinutes(5) - OneSecond);
        await AssertServedAsync(client, "seed_expiring", "SUCCESS");

        factory.Time.Advance(OneSecond);
        await AssertExpiredAsync(client, "seed_expiring");
    }

    [Fact]
    public async Task ScheduleThatFinishedOneRetentionAgoIsNeverServed()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateClientWithApiKey();
        var schedule = await factory.PutAsync(TestData.Success(License, finishedAt: factory.Time.GetUtcNow() - TimeSpan.FromHours(1)));

        await AssertExpiredAsync(client, schedule.ScheduleId);
    }

    [Fact]
    public async Task UnfinishedSchedulesOutliveTheRetention()
    {
        // Unfinished runs end by finishing or by Scheduler:MaxRunTime (their own tests), never by retention.
        using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?> { ["Store:SweepInterval"] = "1.00:00:00", ["Scheduler:MaxRunTime"] = "30.00:00:00" },
        };
        using var client = factory.CreateClientWithApiKey();
        var running = await factory.PutAsync(TestData.Running(License));
        var queued = await factory.PutAsync(new ScheduleRecord(TestData.NewScheduleId(), License, ScheduleStatus.Queued,
            [SubQueryState.Queued], RowBuffer.Empty, null, null));
        var scheduled = await factory.PutAsync(new ScheduleRecord(TestData.NewScheduleId(), License, ScheduleStatus.Scheduled,
            [SubQueryState.Queued, SubQueryState.Queued], RowBuffer.Empty, null, null));

        factory.Time.Advance(TimeSpan.FromDays(29));

        Assert.Equal(0, await factory.Store.RemoveExpiredAsync(CancellationToken.None));
        foreach (var (schedule, status) in new[] { (running, "RUNNING"), (queued, "QUEUED"), (scheduled, "SCHEDULED") })
        {
            var body = await client.StatusAsync(schedule.ScheduleId);
            Assert.Equal(status, body.StatusCode());
            Assert.False(body.GetProperty("meta").TryGetProperty("expires_at", out _));
        }
    }

    [Theory]
    [InlineData(null, 60)]
    [InlineData("00:07:00", 420)]
    public async Task ExpirySweeperFreesExpiredSchedulesWhenTheSweepIntervalPasses(string? sweepInterval, int intervalSeconds)
    {
        var interval = TimeSpan.FromSeconds(intervalSeconds);
        using var factory = new TimerWatchingFactory
        {
            Settings = sweepInterval is null ? new Dictionary<string, string?>() : new Dictionary<string, string?> { ["Store:SweepInterval"] = sweepInterval },
        };
        using var client = factory.CreateClientWithApiKey();
        var now = factory.Time.GetUtcNow();
        var expired = await factory.PutAsync(TestData.Success(License, finishedAt: now - TimeSpan.FromHours(2)));
        var live = await factory.PutAsync(TestData.Success(License, finishedAt: now));
        var running = await factory.PutAsync(TestData.Running(License));
        // The sweeper starts on a background thread; its timer must exist before the clock moves.
        await ClientKit.EventuallyAsync(() => factory.Timers.PeriodicTimersCreated(interval) == 1, $"the sweeper's {interval} timer");

        factory.Time.Advance(interval - OneSecond);
        Assert.Equal(0, factory.Timers.PeriodicTimerTicks(interval));

        factory.Time.Advance(OneSecond);
        Assert.Equal(1, factory.Timers.PeriodicTimerTicks(interval));
        await ClientKit.EventuallyAsync(
            () => factory.Logs.Events.Any(e => e.MessageTemplate.Text.StartsWith("Removed {Count} expired schedules", StringComparison.Ordinal)),
            "the sweep's log line");

        var swept = Assert.Single(factory.Logs.Events, e => e.MessageTemplate.Text.StartsWith("Removed {Count} expired schedules", StringComparison.Ordinal));
        Assert.Equal("1", swept.Properties["Count"].ToString());
        Assert.Equal(0, await factory.Store.RemoveExpiredAsync(CancellationToken.None));
        await AssertExpiredAsync(client, expired.ScheduleId);
        await AssertServedAsync(client, live.ScheduleId, "SUCCESS");
        await AssertServedAsync(client, running.ScheduleId, "RUNNING");
    }

    [Fact]
    public async Task PutReplacesARunningScheduleWithItsSuccess()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateClientWithApiKey();
        var id = TestData.NewScheduleId();
        await factory.PutAsync(TestData.Running(License, id));
        await AssertServedAsync(client, id, "RUNNING");

        await factory.PutAsync(TestData.Success(License, rows: 4, scheduleId: id));

        var body = await client.StatusAsync(id);
        Assert.Equal("SUCCESS", body.StatusCode());
        Assert.Equal(4, body.Counter("paging", "total_rows"));
        Assert.Equal("""{"i":3,"v":"row-3"}""", body.RawRows()[3]);
        Assert.Equal(0, body.Counter("workflow", "tasks_running"));
    }

    [Fact]
    public async Task PutReplacingAFinishedScheduleRestartsItsRetention()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateClientWithApiKey();
        var id = TestData.NewScheduleId();
        await factory.PutAsync(TestData.Success(License, rows: 1, scheduleId: id));

        factory.Time.Advance(TimeSpan.FromMinutes(50));
        await factory.PutAsync(TestData.Success(License, rows: 2, scheduleId: id));

        // The first version would have expired 10 minutes from now; the second lives an hour.
        factory.Time.Advance(TimeSpan.FromHours(1) - OneSecond);
        var body = await client.StatusAsync(id);
        Assert.Equal(2, body.Counter("paging", "total_rows"));

        factory.Time.Advance(OneSecond);
        await AssertExpiredAsync(client, id);
    }

    [Fact]
    public async Task PutReplacingAFinishedScheduleWithARunningOneStopsItExpiring()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateClientWithApiKey();
        var id = TestData.NewScheduleId();
        await factory.PutAsync(TestData.Success(License, scheduleId: id));
        await factory.PutAsync(TestData.Running(License, id));

        factory.Time.Advance(TimeSpan.FromHours(2));

        var body = await client.StatusAsync(id);
        Assert.Equal("RUNNING", body.StatusCode());
        Assert.False(body.GetProperty("meta").TryGetProperty("expires_at", out _));
    }

    [Fact]
    public async Task PutAfterExpiryServesTheScheduleAgain()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateClientWithApiKey();
        var id = TestData.NewScheduleId();
        await factory.PutAsync(TestData.Success(License, scheduleId: id));
        factory.Time.Advance(TimeSpan.FromHours(1));
        await AssertExpiredAsync(client, id);

        await factory.PutAsync(TestData.Success(License, rows: 5, scheduleId: id));

        Assert.Equal(5, (await client.StatusAsync(id)).Counter("paging", "total_rows"));
    }
}
