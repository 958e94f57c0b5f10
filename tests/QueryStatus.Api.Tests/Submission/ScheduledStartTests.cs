using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// A run submitted with a future <c>not_before</c> waits as SCHEDULED outside its license's queue and joins it
/// once the service's clock passes that time. Each test leases and moves time, so each has its own factory.
/// </summary>
public class ScheduledStartTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task ScheduledRunsTasksAreNeitherLeasableNorCountedInTheQueue()
    {
        using var factory = NewFactory(provider);
        var license = TestData.NewLicenseId();
        var later = TestData.NewScheduleId("later");
        var now = TestData.NewScheduleId("now");
        using var client = factory.CreateJwtClient(license);
        using var worker = factory.CreateWorker();

        var scheduled = await client.SubmitAsync(later, 3, notBefore: Iso(factory.Time.GetUtcNow().AddMinutes(10)));
        Assert.Equal("SCHEDULED", scheduled.StatusCode());
        Assert.Equal((0, 0), scheduled.Workflow());

        Assert.Empty(await worker.LeaseAsync());

        // Only the run that may start now is in the queue.
        await client.SubmitAsync(now, 2);
        Assert.Equal((2, 0), (await client.StatusAsync(later)).Workflow());
        var leased = await worker.LeaseAsync();
        Assert.Equal(2, leased.Count);
        Assert.All(leased, t => Assert.Equal(now, t.ScheduleId));
        Assert.Equal("SCHEDULED", (await client.StatusAsync(later)).StatusCode());
    }

    [Fact]
    public async Task ScheduledRunIsQueuedAndLeasableOnceItsStartTimeHasPassed()
    {
        using var factory = NewFactory(provider);
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 2, notBefore: Iso(factory.Time.GetUtcNow().AddMinutes(10)));

        await factory.AdvanceAsync(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        Assert.Equal("SCHEDULED", (await client.StatusAsync(scheduleId)).StatusCode());
        Assert.Empty(await worker.LeaseAsync());

        await factory.AdvanceAsync(TimeSpan.FromSeconds(2));
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", status.StatusCode());
        Assert.Equal((0, 2), status.Progress());
        Assert.Equal((2, 0), status.Workflow());

        var leased = await worker.LeaseAsync();
        Assert.Equal(2, leased.Count);
        Assert.All(leased, t => Assert.Equal(scheduleId, t.ScheduleId));
        Assert.All(leased, t => Assert.Equal(license, t.LicenseId));
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task ScheduledRunStartsWhenAWorkerAsksEvenIfNobodyReadsItsStatus()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1, notBefore: Iso(factory.Time.GetUtcNow().AddMinutes(5)));

        factory.Time.Advance(TimeSpan.FromMinutes(6));

        var leased = Assert.Single(await worker.LeaseAsync());
        Assert.Equal(scheduleId, leased.ScheduleId);
        AssertJsonEqual("{\"q\":0}", leased.Payload);
    }

    [Fact]
    public async Task NotBeforeWithAnOffsetIsTheSameInstantInUtc()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        // 14:30 at +02:00 is 12:30 UTC: half an hour after the factory's start (12:00 UTC).
        Assert.Equal(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero), factory.Time.GetUtcNow());

        var submitted = await client.SubmitAsync(scheduleId, 1, notBefore: "2026-11-29T14:30:00+02:00");
        Assert.Equal("SCHEDULED", submitted.StatusCode());

        await factory.AdvanceAsync(TimeSpan.FromMinutes(29));
        Assert.Equal("SCHEDULED", (await client.StatusAsync(scheduleId)).StatusCode());
        await factory.AdvanceAsync(TimeSpan.FromMinutes(1));
        Assert.Equal("QUEUED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task StoppedScheduledRunNeverStarts()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 2, notBefore: Iso(factory.Time.GetUtcNow().AddMinutes(10)));

        var stopped = await client.StopAsync(scheduleId);
        Assert.Equal("STOPPED", stopped.StatusCode());

        factory.Time.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal("STOPPED", (await client.StatusAsync(scheduleId)).StatusCode());
        Assert.Empty(await worker.LeaseAsync());
    }

    [Fact]
    public async Task ResubmittingAStoppedScheduledRunUsesOnlyTheNewStartTime()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1, notBefore: Iso(factory.Time.GetUtcNow().AddMinutes(10)));
        await client.StopAsync(scheduleId);

        await client.SubmitAsync(scheduleId, 1, notBefore: Iso(factory.Time.GetUtcNow().AddMinutes(30)));

        // The stopped run's start time passing does not start its successor.
        await factory.AdvanceAsync(TimeSpan.FromMinutes(11));
        Assert.Equal("SCHEDULED", (await client.StatusAsync(scheduleId)).StatusCode());
        Assert.Empty(await worker.LeaseAsync());

        await factory.AdvanceAsync(TimeSpan.FromMinutes(20));
        Assert.Equal("QUEUED", (await client.StatusAsync(scheduleId)).StatusCode());
        Assert.Single(await worker.LeaseAsync());
    }
}

public sealed class ScheduledStartTestsOnPostgres() : ScheduledStartTests(StoreOptions.PostgresProvider);
