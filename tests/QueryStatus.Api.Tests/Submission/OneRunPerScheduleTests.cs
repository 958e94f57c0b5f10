using System.Net;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// A schedule ID has one run at a time per license: submitting it while its run is unfinished is a conflict
/// that leaves the run alone; submitting it once the run finished starts a new run that replaces the old one,
/// results included. Tests that lease or move time make their own factory.
/// </summary>
public class OneRunPerScheduleTests(QueryStatusFactory shared) : IClassFixture<QueryStatusFactory>
{
    [Fact]
    public async Task SubmittingAnUnfinishedScheduleIdIsConflict()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 2);

        using var again = await client.PostSubmitAsync(SubmitBody(scheduleId, SubQueries(5)));

        var description = await again.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        Assert.Contains(scheduleId, description);
        Assert.Contains("QUEUED", description);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", status.StatusCode());
        Assert.Equal((0, 2), status.Progress());
        Assert.Equal((2, 0), status.Workflow());
    }

    [Fact]
    public async Task SubmittingAScheduledScheduleIdIsConflict()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 2, notBefore: Iso(shared.Time.GetUtcNow().AddHours(2)));

        using var again = await client.PostSubmitAsync(SubmitBody(scheduleId, SubQueries(1)));

        var description = await again.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        Assert.Contains("SCHEDULED", description);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SCHEDULED", status.StatusCode());
        Assert.Equal((0, 2), status.Progress());
    }

    [Fact]
    public async Task SubmittingARunningScheduleIdIsConflictAndLeavesTheRunUntouched()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 2);
        var first = Assert.Single(await worker.LeaseAsync(maxTasks: 1));
        await worker.RowsOkAsync(first, 0, "{\"r\":1}");

        using var again = await client.PostSubmitAsync(SubmitBody(scheduleId, SubQueries(7)));

        var description = await again.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        Assert.Contains("RUNNING", description);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", status.StatusCode());
        Assert.Equal((0, 2), status.Progress());
        Assert.Equal((1, 1), status.Workflow());

        // The lease, its staged rows and the queued task all survive: the run finishes as if nothing happened.
        using (var heartbeat = await worker.HeartbeatAsync(first))
        {
            Assert.Equal(HttpStatusCode.OK, heartbeat.StatusCode);
        }
        var second = Assert.Single(await worker.LeaseAsync());
        Assert.Equal(scheduleId, second.ScheduleId);
        await worker.CompleteOkAsync(first, ["{\"r\":2}"]);
        await worker.CompleteOkAsync(second, ["{\"r\":3}"]);
        var done = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", done.StatusCode());
        Assert.Equal(3, done.TotalRows());
    }

    [Fact]
    public async Task SubmittingASucceededScheduleIdStartsANewRunThatReplacesItsResults()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, ["{\"run\":1}"]);
        var old = Assert.Single(await worker.LeaseAsync());
        await worker.CompleteOkAsync(old, ["{\"old\":1}", "{\"old\":2}"]);
        var succeeded = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", succeeded.StatusCode());
        Assert.Equal(2, succeeded.TotalRows());

        var resubmitted = await client.SubmitAsync(scheduleId, ["{\"run\":2}", "{\"run\":2.5}"]);

        Assert.Equal("QUEUED", resubmitted.StatusCode());
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", status.StatusCode());
        Assert.Equal((0, 2), status.Progress());
        Assert.Equal(0, status.TotalRows());
        Assert.Empty(status.Data());
        Assert.Null(status.ExpiresAt());

        // The old run's task is gone with it; the worker gets only the new run's sub-queries.
        using (var heartbeat = await worker.HeartbeatAsync(old))
        {
            await heartbeat.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }
        var leased = await worker.LeaseAsync();
        Assert.Equal(2, leased.Count);
        AssertJsonEqual("{\"run\":2}", leased[0].Payload);
        AssertJsonEqual("{\"run\":2.5}", leased[1].Payload);
        await worker.CompleteOkAsync(leased[0], ["{\"new\":1}"]);
        await worker.CompleteOkAsync(leased[1]);
        var rows = await client.ReadAllRowsAsync(scheduleId, pageSize: 10);
        AssertJsonEqual("{\"new\":1}", Assert.Single(rows));
    }

    [Fact]
    public async Task SubmittingAFailedScheduleIdStartsANewRunWithoutTheOldFailure()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1);
        var task = Assert.Single(await worker.LeaseAsync());
        using (var fail = await worker.FailAsync(task, "DATA_SOURCE_ERROR", retryable: false))
        {
            Assert.Equal(HttpStatusCode.OK, fail.StatusCode);
        }
        var failed = await client.StatusAsync(scheduleId);
        Assert.Equal("FAILURE", failed.StatusCode());
        Assert.Equal("DATA_SOURCE_ERROR", failed.Meta().GetProperty("failure").GetProperty("code").GetString());

        var resubmitted = await client.SubmitAsync(scheduleId, 3);

        Assert.Equal("QUEUED", resubmitted.StatusCode());
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", status.StatusCode());
        Assert.Equal((0, 3), status.Progress());
        Assert.False(status.Meta().TryGetProperty("failure", out _));
        Assert.Null(status.ExpiresAt());
        Assert.Equal(3, (await worker.LeaseAsync()).Count);
    }

    [Fact]
    public async Task SubmittingAStoppedScheduleIdStartsANewRun()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 2);
        await client.StopAsync(scheduleId);

        var resubmitted = await client.SubmitAsync(scheduleId, 4);

        Assert.Equal("QUEUED", resubmitted.StatusCode());
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", status.StatusCode());
        Assert.Equal((0, 4), status.Progress());
        Assert.Equal((4, 0), status.Workflow());
        Assert.Null(status.ExpiresAt());
    }

    [Fact]
    public async Task ReplacedRunsRetentionDoesNotExpireItsSuccessor()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 1);
        await client.StopAsync(scheduleId);
        factory.Time.Advance(TimeSpan.FromMinutes(30));
        await client.SubmitAsync(scheduleId, 1);

        // The stopped run would have expired now; the new, unfinished run stays.
        await factory.AdvanceAsync(TimeSpan.FromMinutes(31));

        Assert.Equal("QUEUED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task SameScheduleIdUnderTwoLicensesIsTwoIndependentRuns()
    {
        var scheduleId = TestData.NewScheduleId();
        using var first = shared.CreateJwtClient(TestData.NewLicenseId());
        using var second = shared.CreateJwtClient(TestData.NewLicenseId());

        await first.SubmitAsync(scheduleId, 2);
        var other = await second.SubmitAsync(scheduleId, 3);
        Assert.Equal("QUEUED", other.StatusCode());
        Assert.Equal((0, 3), other.Progress());
        Assert.Equal((3, 0), other.Workflow());

        Assert.Equal("STOPPED", (await first.StopAsync(scheduleId)).StatusCode());

        var untouched = await second.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", untouched.StatusCode());
        Assert.Equal((0, 3), untouched.Progress());
        Assert.Equal((3, 0), untouched.Workflow());
        Assert.Equal((0, 2), (await first.StatusAsync(scheduleId)).Progress());
    }
}

public sealed class OneRunPerScheduleTestsOnPostgres(QueryStatusFactoryOnPostgres shared) : OneRunPerScheduleTests(shared), IClassFixture<QueryStatusFactoryOnPostgres>;
