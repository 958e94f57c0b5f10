using System.Net;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// POST /enterprise/v2/query/stop: the run ends as STOPPED, its queued tasks are dropped and its running
/// ones abandoned. Tests that lease or move time make their own factory; the rest share one.
/// </summary>
public class StopTests(QueryStatusFactory shared) : IClassFixture<QueryStatusFactory>
{
    [Fact]
    public async Task StoppingAQueuedRunAnswersItsStatusAsStoppedWithAnExpiry()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 3);

        using var response = await client.PostStopAsync(scheduleId);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var stopped = await response.ReadJsonAsync();
        Assert.Equal(scheduleId, stopped.ScheduleId());
        Assert.Equal("STOPPED", stopped.StatusCode());
        Assert.Equal((0, 3), stopped.Progress());
        Assert.Equal((0, 0), stopped.Workflow());
        Assert.Empty(stopped.Data());
        Assert.Equal(shared.Time.GetUtcNow() + Retention, stopped.ExpiresAt());
        Assert.Equal(Shape(await client.StatusAsync(scheduleId)), Shape(stopped));

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("STOPPED", status.StatusCode());
        Assert.Equal(stopped.ExpiresAt(), status.ExpiresAt());
    }

    [Fact]
    public async Task StopTakesTheScheduleIdInsideTheJsonParameter()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 1);

        using var response = await client.PostAsync(
            $"{StopPath}?json={Uri.EscapeDataString($"{{\"schedule_id\":\"{scheduleId}\"}}")}", content: null);

        Assert.Equal("STOPPED", (await response.ReadJsonAsync()).StatusCode());
        Assert.Equal("STOPPED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    /// <summary>The name in any case, as the query string's is read.</summary>
    [Theory]
    [InlineData("schedule_id")]
    [InlineData("Schedule_ID")]
    public async Task StopTakesTheScheduleIdFromAJsonBody(string name)
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 1);

        using var response = await client.PostAsync(StopPath, Json($"{{\"{name}\":\"{scheduleId}\"}}"));

        Assert.Equal("STOPPED", (await response.ReadJsonAsync()).StatusCode());
        Assert.Equal("STOPPED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task BodyGivingTheScheduleIdTwiceInDifferentCasesIsABadRequestAndStopsNothing()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 1);

        using var response = await client.PostAsync(StopPath,
            Json($"{{\"schedule_id\":\"{scheduleId}\",\"SCHEDULE_ID\":\"{scheduleId}\"}}"));

        Assert.Equal("schedule_id: given more than once in the body; give it once.",
            await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST"));
        Assert.NotEqual("STOPPED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task StoppingAFinishedRunIsConflict()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 1);
        var first = await client.StopAsync(scheduleId);

        using var again = await client.PostStopAsync(scheduleId);

        var description = await again.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        Assert.Contains("STOPPED", description);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("STOPPED", status.StatusCode());
        Assert.Equal(first.ExpiresAt(), status.ExpiresAt());
    }

    [Fact]
    public async Task StoppingASucceededRunIsConflictAndKeepsItsRows()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1);
        await worker.CompleteOkAsync(Assert.Single(await worker.LeaseAsync()), ["{\"r\":1}"]);

        using var response = await client.PostStopAsync(scheduleId);

        await response.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        AssertJsonEqual("{\"r\":1}", Assert.Single(status.Data()));
    }

    [Fact]
    public async Task StoppingAFailedRunIsConflict()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1);
        (await worker.FailAsync(Assert.Single(await worker.LeaseAsync()))).Dispose();

        using var response = await client.PostStopAsync(scheduleId);

        await response.AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
        Assert.Equal("FAILURE", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task StoppingAnUnknownScheduleIsNotFound()
    {
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostStopAsync(TestData.NewScheduleId());

        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task StoppingAnotherLicensesScheduleIsNotFoundAndLeavesItRunning()
    {
        var scheduleId = TestData.NewScheduleId();
        using var owner = shared.CreateJwtClient(TestData.NewLicenseId());
        using var stranger = shared.CreateJwtClient(TestData.NewLicenseId());
        await owner.SubmitAsync(scheduleId, 2);

        using var response = await stranger.PostStopAsync(scheduleId);

        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        var status = await owner.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", status.StatusCode());
        Assert.Equal((2, 0), status.Workflow());
    }

    [Fact]
    public async Task StopWithoutScheduleIdIsBadRequest()
    {
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostAsync(StopPath, content: null);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("schedule_id", description);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"schedule_id\":null}")]
    [InlineData("{\"schedule_id\":\"\"}")]
    [InlineData("{\"schedule_id\":\"bad id\"}")]
    [InlineData("[\"s_1\"]")]
    public async Task StopWithAJsonBodyWithoutAUsableScheduleIdIsBadRequest(string body)
    {
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostAsync(StopPath, Json(body));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("schedule_id", description);
    }

    [Fact]
    public async Task StopWithABodyThatIsNotJsonIsUnsupportedAndStopsNothing()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(scheduleId, 1);

        using var body = new StringContent($"{{\"schedule_id\":\"{scheduleId}\"}}", System.Text.Encoding.UTF8, "text/plain");
        using var response = await client.PostAsync($"{StopPath}?schedule_id={scheduleId}", body);

        await response.AssertEnvelopeAsync(HttpStatusCode.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE");
        Assert.Equal("QUEUED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task StopWithDifferentScheduleIdsInQueryAndBodyIsBadRequestAndStopsNeither()
    {
        var (first, second) = (TestData.NewScheduleId(), TestData.NewScheduleId());
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(first, 1);
        await client.SubmitAsync(second, 1);

        using var response = await client.PostAsync($"{StopPath}?schedule_id={first}", Json($"{{\"schedule_id\":\"{second}\"}}"));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("schedule_id", description, StringComparison.Ordinal);
        Assert.Equal(("QUEUED", "QUEUED"), ((await client.StatusAsync(first)).StatusCode(), (await client.StatusAsync(second)).StatusCode()));
    }

    [Fact]
    public async Task StopWithAMalformedJsonBodyIsBadRequest()
    {
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostAsync(StopPath, Json("{\"schedule_id\":"));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("JSON", description);
    }

    [Theory]
    [InlineData("{\"schedule_id\":\"\\ud800\"}")] // an escaped surrogate without its pair
    [InlineData("{\"schedule_id\":\"\\udc00abc\"}")]
    public async Task StopWithABodyWhoseTextIsNotValidUnicodeIsBadRequest(string body)
    {
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostAsync(StopPath, Json(body));

        await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
    }

    [Fact]
    public async Task StopWithScheduleIdTwiceInTheBodyIsBadRequestAndStopsNeither()
    {
        var (first, second) = (TestData.NewScheduleId(), TestData.NewScheduleId());
        using var client = shared.CreateJwtClient(TestData.NewLicenseId());
        await client.SubmitAsync(first, 1);
        await client.SubmitAsync(second, 1);

        using var response = await client.PostAsync(StopPath, Json($"{{\"schedule_id\":\"{first}\",\"schedule_id\":\"{second}\"}}"));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("a key twice", description, StringComparison.Ordinal);
        Assert.Equal(("QUEUED", "QUEUED"), ((await client.StatusAsync(first)).StatusCode(), (await client.StatusAsync(second)).StatusCode()));
    }

    [Fact]
    public async Task StoppingDropsQueuedTasksSoNoWorkerLeasesThem()
    {
        using var factory = NewFactory(shared.Provider);
        var license = TestData.NewLicenseId();
        var keep = TestData.NewScheduleId("keep");
        var stop = TestData.NewScheduleId("stop");
        using var client = factory.CreateJwtClient(license);
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(keep, 2);
        await client.SubmitAsync(stop, 3);
        Assert.Equal((5, 0), (await client.StatusAsync(keep)).Workflow());

        var stopped = await client.StopAsync(stop);

        Assert.Equal((2, 0), stopped.Workflow());
        Assert.Equal((2, 0), (await client.StatusAsync(keep)).Workflow());
        var leased = await worker.LeaseAsync();
        Assert.Equal(2, leased.Count);
        Assert.All(leased, t => Assert.Equal(keep, t.ScheduleId));
        Assert.Empty(await worker.LeaseAsync());
    }

    [Fact]
    public async Task StoppingAbandonsRunningTasksSoTheirWorkersAreTurnedAway()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 3);
        var running = await worker.LeaseAsync(maxTasks: 2);
        Assert.Equal(2, running.Count);
        await worker.RowsOkAsync(running[0], 0, "{\"staged\":true}");
        Assert.Equal((1, 2), (await client.StatusAsync(scheduleId)).Workflow());

        var stopped = await client.StopAsync(scheduleId);

        Assert.Equal("STOPPED", stopped.StatusCode());
        Assert.Equal((0, 0), stopped.Workflow());
        Assert.NotNull(stopped.ExpiresAt());
        foreach (var task in running)
        {
            await worker.HeartbeatAsync(task).AssertConflictAsync("stopped");
            await worker.RowsAsync(task, 1, "{\"late\":true}").AssertConflictAsync("stopped");
            await worker.CompleteAsync(task, ["{\"late\":true}"]).AssertConflictAsync("stopped");
            await worker.FailAsync(task).AssertConflictAsync("stopped");
        }
        Assert.Empty(await worker.LeaseAsync());

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("STOPPED", status.StatusCode());
        Assert.Equal((0, 3), status.Progress());
        Assert.Equal(0, status.TotalRows());
        Assert.Empty(status.Data());
    }

    [Fact]
    public async Task StoppedRunKeepsTheSubQueriesThatFinishedBeforeIt()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 3);
        await worker.CompleteOkAsync(Assert.Single(await worker.LeaseAsync(maxTasks: 1)), ["{\"r\":1}"]);

        var stopped = await client.StopAsync(scheduleId);

        Assert.Equal((1, 3), stopped.Progress());
        // Only a SUCCESS serves rows.
        Assert.Equal(0, stopped.TotalRows());
    }

    [Fact]
    public async Task StoppedRunExpiresAfterRetentionAndItsTasksWithIt()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1);
        var task = Assert.Single(await worker.LeaseAsync(leaseSeconds: 600));
        factory.Time.Advance(TimeSpan.FromMinutes(3));
        var stopped = await client.StopAsync(scheduleId);
        Assert.Equal(factory.Time.GetUtcNow() + Retention, stopped.ExpiresAt());

        factory.Time.Advance(Retention - TimeSpan.FromSeconds(1));
        Assert.Equal("STOPPED", (await client.StatusAsync(scheduleId)).StatusCode());
        await worker.HeartbeatAsync(task).AssertConflictAsync();

        factory.Time.Advance(TimeSpan.FromSeconds(1));
        using (var status = await client.GetStatusAsync(scheduleId))
        {
            await status.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }
        using var heartbeat = await worker.HeartbeatAsync(task);
        await heartbeat.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }
}

public sealed class StopTestsOnPostgres(QueryStatusFactoryOnPostgres shared) : StopTests(shared), IClassFixture<QueryStatusFactoryOnPostgres>;
