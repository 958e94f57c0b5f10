using System.Net;
using System.Text.Json;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// A query from submission to expiry, as its owner and a worker follow it over HTTP. Each test leases and
/// moves time, so each has its own factory.
/// </summary>
public class LifecycleTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task QueryRunsFromSubmissionToSuccessAsTheWorkerReportsBack()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();

        var submitted = await client.SubmitAsync(scheduleId, 3);
        Assert.Equal("QUEUED", submitted.StatusCode());
        Assert.Equal((0, 3), submitted.Progress());

        var leased = await worker.LeaseAsync(maxTasks: 10, leaseSeconds: 60);
        Assert.Equal(3, leased.Count);
        Assert.All(leased, t => Assert.Equal(scheduleId, t.ScheduleId));
        Assert.All(leased, t => Assert.Equal(1, t.Attempt));
        var (q0, q1, q2) = (leased.WithQ(0), leased.WithQ(1), leased.WithQ(2));

        var running = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", running.StatusCode());
        Assert.Equal((0, 3), running.Progress());
        Assert.Equal((0, 3), running.Workflow());

        // Sub-query 0: two batches of rows, then the last row with the completion.
        await worker.RowsOkAsync(q0, 0, "{\"q\":0,\"n\":0}", "{\"q\":0,\"n\":1}");
        await worker.RowsOkAsync(q0, 1, "{\"q\":0,\"n\":2}");
        await worker.CompleteOkAsync(q0, ["{\"q\":0,\"n\":3}"]);
        var one = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", one.StatusCode());
        Assert.Equal((1, 3), one.Progress());
        Assert.Equal((0, 2), one.Workflow());
        Assert.Equal(0, one.TotalRows());
        Assert.Empty(one.Data());
        Assert.Null(one.ExpiresAt());

        // Sub-query 1: rows only with the completion (time moves, within the 60-second lease).
        factory.Time.Advance(TimeSpan.FromSeconds(20));
        await worker.CompleteOkAsync(q1, ["{\"q\":1,\"n\":0}", "{\"q\":1,\"n\":1}"]);
        var two = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", two.StatusCode());
        Assert.Equal((2, 3), two.Progress());

        // Sub-query 2: rows sent before an empty completion.
        factory.Time.Advance(TimeSpan.FromSeconds(20));
        await worker.RowsOkAsync(q2, 0, "{\"q\":2,\"n\":0}");
        await worker.CompleteOkAsync(q2);
        var completedAt = factory.Time.GetUtcNow();

        var done = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", done.StatusCode());
        Assert.Equal((3, 3), done.Progress());
        Assert.Equal((0, 0), done.Workflow());
        Assert.Equal(7, done.TotalRows());
        Assert.Equal(completedAt + Retention, done.ExpiresAt());

        var rows = await client.ReadAllRowsAsync(scheduleId, pageSize: 3);
        Assert.Equal(
            ["{\"q\":0,\"n\":0}", "{\"q\":0,\"n\":1}", "{\"q\":0,\"n\":2}", "{\"q\":0,\"n\":3}",
             "{\"q\":1,\"n\":0}", "{\"q\":1,\"n\":1}", "{\"q\":2,\"n\":0}"],
            rows.Select(r => r.GetRawText()));
    }

    [Fact]
    public async Task RowsFollowSubQueryOrderEvenWhenTasksCompleteInReverse()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 4);
        var leased = await worker.LeaseAsync();
        Assert.Equal(4, leased.Count);

        // Batches interleave across tasks and tasks finish last-first.
        await worker.RowsOkAsync(leased.WithQ(3), 0, "{\"q\":3,\"n\":0}");
        await worker.RowsOkAsync(leased.WithQ(0), 0, "{\"q\":0,\"n\":0}");
        await worker.RowsOkAsync(leased.WithQ(2), 0, "{\"q\":2,\"n\":0}", "{\"q\":2,\"n\":1}");
        await worker.CompleteOkAsync(leased.WithQ(3), ["{\"q\":3,\"n\":1}"]);
        await worker.CompleteOkAsync(leased.WithQ(2));
        await worker.CompleteOkAsync(leased.WithQ(1), ["{\"q\":1,\"n\":0}"]);
        Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());
        await worker.CompleteOkAsync(leased.WithQ(0), ["{\"q\":0,\"n\":1}", "{\"q\":0,\"n\":2}"]);

        var rows = await client.ReadAllRowsAsync(scheduleId, pageSize: 2);

        Assert.Equal(
            [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1), (3, 0), (3, 1)],
            rows.Select(r => (r.GetProperty("q").GetInt32(), r.GetProperty("n").GetInt32())));
    }

    [Fact]
    public async Task RowsArriveAsTheWorkerWroteThem()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1);
        var task = Assert.Single(await worker.LeaseAsync());
        string[] rows = ["{\"a\":1,\"b\":[1,2,{\"c\":null}]}", "[1,\"two\"]", "\"text\"", "123456789012345678901234567890", "null"];

        await worker.CompleteOkAsync(task, rows);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal(rows, status.Data().Select(r => r.GetRawText()));
    }

    [Fact]
    public async Task FinishedQueryExpiresAnHourAfterItCompleted()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1);
        var task = Assert.Single(await worker.LeaseAsync(leaseSeconds: 600));
        factory.Time.Advance(TimeSpan.FromMinutes(7));
        await worker.CompleteOkAsync(task, ["{\"r\":1}"]);
        var completedAt = factory.Time.GetUtcNow();
        Assert.Equal(completedAt + Retention, (await client.StatusAsync(scheduleId)).ExpiresAt());

        factory.Time.Advance(Retention - TimeSpan.FromSeconds(1));
        var lastMoment = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", lastMoment.StatusCode());
        Assert.Single(lastMoment.Data());

        factory.Time.Advance(TimeSpan.FromSeconds(1));
        using var expired = await client.GetStatusAsync(scheduleId);
        await expired.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task ExpiryReleasesTheRunSoItsTasksAreNotFound()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 2);
        var leased = await worker.LeaseAsync();
        foreach (var task in leased)
        {
            await worker.CompleteOkAsync(task);
        }

        // Until expiry the service still knows the tasks: they are done.
        await worker.HeartbeatAsync(leased[0]).AssertConflictAsync("completed");

        factory.Time.Advance(Retention);

        foreach (var task in leased)
        {
            using var heartbeat = await worker.HeartbeatAsync(task);
            await heartbeat.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }
        // The schedule ID is free: a new run starts under it.
        Assert.Equal("QUEUED", (await client.SubmitAsync(scheduleId, 1)).StatusCode());
    }

    [Fact]
    public async Task RepeatedCompletionIsAcknowledgedWithoutAddingRowsTwice()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, 1);
        var task = Assert.Single(await worker.LeaseAsync());
        await worker.RowsOkAsync(task, 0, "{\"n\":0}");
        await worker.RowsOkAsync(task, 0, "{\"n\":0}");
        await worker.CompleteOkAsync(task, ["{\"n\":1}"]);

        using var again = await worker.CompleteAsync(task, ["{\"n\":1}"]);
        var body = await again.ReadJsonAsync();

        Assert.True(body.GetProperty("duplicate").GetBoolean());
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal(["{\"n\":0}", "{\"n\":1}"], status.Data().Select(r => r.GetRawText()));
    }

    [Fact]
    public async Task LeaseResponseCarriesWhatAWorkerNeeds()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        var license = TestData.NewLicenseId();
        using var client = factory.CreateJwtClient(license);
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, ["{\"sql\":\"SELECT 1\"}"]);

        using var response = await worker.PostLeaseAsync(maxTasks: 10, leaseSeconds: 90);
        var body = await response.ReadJsonAsync();

        var task = Assert.Single(body.GetProperty("tasks").EnumerateArray());
        Assert.Equal(scheduleId, task.GetProperty("schedule_id").GetString());
        Assert.Equal(license, task.GetProperty("license_id").GetString());
        Assert.False(string.IsNullOrEmpty(task.GetProperty("task_id").GetString()));
        Assert.False(string.IsNullOrEmpty(task.GetProperty("lease_token").GetString()));
        Assert.Equal(1, task.GetProperty("attempt").GetInt32());
        Assert.Equal(JsonValueKind.Object, task.GetProperty("payload").ValueKind);
        var expires = DateTimeOffset.Parse(task.GetProperty("lease_expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(factory.Time.GetUtcNow().AddSeconds(90), expires);
    }
}

public sealed class LifecycleTestsOnPostgres() : LifecycleTests(StoreOptions.PostgresProvider);
