using System.Text.Json;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Status;

/// <summary>
/// meta.progress counts this schedule's sub-queries; meta.workflow counts the license queue: QUEUED and
/// RUNNING tasks of every unfinished schedule of the same license. Each test uses its own license.
/// </summary>
public class StatusCounterTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private static ScheduleRecord Record(string license, ScheduleStatus status, params SubQueryState[] subQueries) =>
        new(TestData.NewScheduleId(), license, status, subQueries,
            status == ScheduleStatus.Success ? TestData.Rows(1) : RowBuffer.Empty,
            status == ScheduleStatus.Failure ? new Failure("E", "failed") : null,
            null);

    private static Task<JsonElement> StatusOfAsync(HttpClient client, ScheduleRecord schedule) => client.StatusAsync(schedule.ScheduleId);

    [Fact]
    public async Task ProgressCountsThisSchedulesSubQueriesAndTheDoneOnes()
    {
        var license = TestData.NewLicenseId();
        var running = await factory.PutAsync(Record(license, ScheduleStatus.Running,
            SubQueryState.Done, SubQueryState.Done, SubQueryState.Running, SubQueryState.Queued, SubQueryState.Queued));
        var succeeded = await factory.PutAsync(Record(license, ScheduleStatus.Success,
            SubQueryState.Done, SubQueryState.Done, SubQueryState.Done, SubQueryState.Done));
        using var client = factory.CreateJwtClient(license);

        Assert.Equal((2, 5), (await StatusOfAsync(client, running)).Progress());
        Assert.Equal((4, 4), (await StatusOfAsync(client, succeeded)).Progress());
    }

    [Fact]
    public async Task NoQueryIsReadyBeforeAnySubQueryIsDone()
    {
        var license = TestData.NewLicenseId();
        var scheduled = await factory.PutAsync(Record(license, ScheduleStatus.Scheduled,
            SubQueryState.Queued, SubQueryState.Queued, SubQueryState.Queued));
        using var client = factory.CreateJwtClient(license);

        Assert.Equal((0, 3), (await StatusOfAsync(client, scheduled)).Progress());
    }

    [Fact]
    public async Task StoppedScheduleReportsTheSubQueriesItFinished()
    {
        var license = TestData.NewLicenseId();
        var stopped = await factory.PutAsync(Record(license, ScheduleStatus.Stopped, SubQueryState.Done, SubQueryState.Done));
        var stoppedEarly = await factory.PutAsync(Record(license, ScheduleStatus.Stopped));
        using var client = factory.CreateJwtClient(license);

        Assert.Equal((2, 2), (await StatusOfAsync(client, stopped)).Progress());
        Assert.Equal((0, 0), (await StatusOfAsync(client, stoppedEarly)).Progress());
    }

    [Fact]
    public async Task WorkflowCountsQueuedAndRunningTasksAcrossTheLicensesUnfinishedSchedules()
    {
        var license = TestData.NewLicenseId();
        ScheduleRecord[] schedules =
        [
            await factory.PutAsync(Record(license, ScheduleStatus.Running, SubQueryState.Done, SubQueryState.Running, SubQueryState.Queued)),
            await factory.PutAsync(Record(license, ScheduleStatus.Queued, SubQueryState.Queued, SubQueryState.Queued)),
            await factory.PutAsync(Record(license, ScheduleStatus.Scheduled, SubQueryState.Queued)),
            await factory.PutAsync(Record(license, ScheduleStatus.Running, SubQueryState.Running, SubQueryState.Running)),
            await factory.PutAsync(Record(license, ScheduleStatus.Success, SubQueryState.Done, SubQueryState.Done)),
            await factory.PutAsync(Record(license, ScheduleStatus.Failure, SubQueryState.Done)),
            await factory.PutAsync(Record(license, ScheduleStatus.Stopped, SubQueryState.Done)),
        ];
        using var client = factory.CreateJwtClient(license);

        // Queued: 1 + 2 (the SCHEDULED run's task is not in the queue before its start time); running: 1 + 2.
        // Every schedule of the license, finished or not, sees the same queue.
        foreach (var schedule in schedules)
        {
            Assert.Equal((3, 3), (await StatusOfAsync(client, schedule)).Workflow());
        }
    }

    [Fact]
    public async Task OtherLicensesTasksDoNotCountInTheQueue()
    {
        var license = TestData.NewLicenseId();
        var other = TestData.NewLicenseId();
        var mine = await factory.PutAsync(Record(license, ScheduleStatus.Running, SubQueryState.Running, SubQueryState.Queued));
        await factory.PutAsync(Record(other, ScheduleStatus.Running, SubQueryState.Running, SubQueryState.Running, SubQueryState.Queued));
        await factory.PutAsync(Record(other, ScheduleStatus.Queued, SubQueryState.Queued, SubQueryState.Queued, SubQueryState.Queued));
        await factory.PutAsync(Record(TestKeys.Primary.LicenseId, ScheduleStatus.Queued, SubQueryState.Queued));
        using var client = factory.CreateJwtClient(license);
        using var otherClient = factory.CreateJwtClient(other);

        Assert.Equal((1, 1), (await StatusOfAsync(client, mine)).Workflow());

        var otherSchedule = await factory.PutAsync(Record(other, ScheduleStatus.Scheduled, SubQueryState.Queued));
        // The other license's SCHEDULED run waits outside its queue: 1 + 3 queued, 2 running.
        Assert.Equal((4, 2), (await StatusOfAsync(otherClient, otherSchedule)).Workflow());
        Assert.Equal((1, 1), (await StatusOfAsync(client, mine)).Workflow());
    }

    [Theory]
    [InlineData(ScheduleStatus.Success)]
    [InlineData(ScheduleStatus.Failure)]
    [InlineData(ScheduleStatus.Stopped)]
    public async Task ScheduleThatFinishesLeavesTheQueue(ScheduleStatus finished)
    {
        var license = TestData.NewLicenseId();
        var leaving = await factory.PutAsync(Record(license, ScheduleStatus.Running, SubQueryState.Running, SubQueryState.Queued));
        var staying = await factory.PutAsync(Record(license, ScheduleStatus.Running,
            SubQueryState.Done, SubQueryState.Running, SubQueryState.Running, SubQueryState.Queued));
        using var client = factory.CreateJwtClient(license);

        Assert.Equal((2, 3), (await StatusOfAsync(client, staying)).Workflow());

        await factory.PutAsync(leaving with { Status = finished, SubQueries = [SubQueryState.Done, SubQueryState.Done],
            Rows = finished == ScheduleStatus.Success ? TestData.Rows(2) : RowBuffer.Empty,
            Failure = finished == ScheduleStatus.Failure ? new Failure("E", "failed") : null });

        Assert.Equal((1, 2), (await StatusOfAsync(client, staying)).Workflow());
        var left = await StatusOfAsync(client, leaving);
        Assert.Equal((1, 2), left.Workflow());
        Assert.Equal((2, 2), left.Progress());
    }

    [Fact]
    public async Task QueueIsEmptyWhenTheLicenseHasOnlyFinishedSchedules()
    {
        var license = TestData.NewLicenseId();
        var succeeded = await factory.PutAsync(Record(license, ScheduleStatus.Success, SubQueryState.Done));
        await factory.PutAsync(Record(license, ScheduleStatus.Failure, SubQueryState.Done, SubQueryState.Done));
        using var client = factory.CreateJwtClient(license);

        Assert.Equal((0, 0), (await StatusOfAsync(client, succeeded)).Workflow());
    }

    [Fact]
    public async Task QueueCountsTheTasksOfANewlyAddedSchedule()
    {
        var license = TestData.NewLicenseId();
        var first = await factory.PutAsync(Record(license, ScheduleStatus.Queued, SubQueryState.Queued));
        using var client = factory.CreateJwtClient(license);
        Assert.Equal((1, 0), (await StatusOfAsync(client, first)).Workflow());

        await factory.PutAsync(Record(license, ScheduleStatus.Running, SubQueryState.Running, SubQueryState.Queued, SubQueryState.Queued));

        Assert.Equal((3, 1), (await StatusOfAsync(client, first)).Workflow());
    }
}

public sealed class StatusCounterTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : StatusCounterTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
