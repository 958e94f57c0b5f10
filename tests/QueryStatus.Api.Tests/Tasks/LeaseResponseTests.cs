using System.Globalization;
using System.Text.Json;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>What the lease call hands a worker, and how a run's status follows its tasks.</summary>
public class LeaseResponseTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task LeasedTaskCarriesItsPayloadAsSubmittedWithAttemptOneAndItsLeaseExpiry()
    {
        using var factory = NewFactory(provider);
        var license = TestData.NewLicenseId();
        using var client = factory.CreateClientWithJwt(license);
        using var worker = factory.CreateWorker();
        string[] payloads =
        [
            """{"sql":"SELECT a, b FROM t WHERE id = 7","limit":10,"ratio":1.50,"big":123456789012345678901234567890,"exp":1e3,"tags":["a","b"],"none":null,"flag":true,"nested":{"deep":[[],{}]}}""",
            "[1,2,3]",
            "\"just text\"",
            "42",
        ];
        var scheduleId = await client.SubmitAsync(payloads);

        factory.Time.Advance(TimeSpan.FromSeconds(7)); // the lease, not the submission, starts the lease's clock
        var leasedAt = factory.Time.GetUtcNow();
        var tasks = await worker.LeaseAsync(maxTasks: 10, leaseSeconds: 90);

        Assert.Equal(payloads, tasks.Select(t => t.PayloadText));
        Assert.All(tasks, task =>
        {
            Assert.Equal(scheduleId, task.ScheduleId);
            Assert.Equal(license, task.LicenseId);
            Assert.Equal(1, task.Attempt);
            Assert.Equal("2026-11-29T12:01:37Z", task.LeaseExpiresAt);
            Assert.Equal(leasedAt.AddSeconds(90), DateTimeOffset.Parse(task.LeaseExpiresAt, CultureInfo.InvariantCulture));
            Assert.StartsWith("t_", task.TaskId, StringComparison.Ordinal);
            Assert.True(task.LeaseToken.Length >= 16, $"A lease token should be unguessable, got '{task.LeaseToken}'.");
        });
        Assert.Equal(tasks.Count, tasks.Select(t => t.TaskId).Distinct().Count());
        Assert.Equal(tasks.Count, tasks.Select(t => t.LeaseToken).Distinct().Count());
    }

    [Fact]
    public async Task PayloadWithEscapesAndNonAsciiTextReachesTheWorkerAsTheSameJsonValue()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        const string payload = """{"sql":"SELECT * FROM t WHERE x > 1 AND y < 2 AND z <> 'a&b'","name":"Zoë \"quoted\" \\ back\nslash","emoji":"\ud83d\ude00"}""";
        await client.SubmitAsync(payload);

        var task = await worker.LeaseOneAsync();

        using var submitted = JsonDocument.Parse(payload);
        Assert.True(JsonElement.DeepEquals(submitted.RootElement, task.Payload), $"Sent {payload}, the worker got {task.PayloadText}.");
        Assert.Equal("SELECT * FROM t WHERE x > 1 AND y < 2 AND z <> 'a&b'", task.Payload.GetProperty("sql").GetString());
        Assert.Equal("Zoë \"quoted\" \\ back\nslash", task.Payload.GetProperty("name").GetString());
    }

    [Fact]
    public async Task LeaseWithoutOptionsHandsOutOneTaskForSixtySeconds()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(Subs("a", 3));

        using var response = await worker.PostLeaseAsync();
        var tasks = (await response.ReadJsonAsync()).GetProperty("tasks").EnumerateArray().Select(WorkerTask.From).ToList();

        var task = Assert.Single(tasks);
        Assert.Equal("a0", task.Name());
        Assert.Equal(Iso(QueryStatusFactory.Start.AddSeconds(60)), task.LeaseExpiresAt);
    }

    [Fact]
    public async Task LeaseWithNothingQueuedAnswersAtOnceWithNoTasks()
    {
        using var factory = NewFactory(provider);
        using var worker = factory.CreateWorker();

        Assert.Empty(await worker.LeaseAsync(maxTasks: 100));
    }

    [Fact]
    public async Task RunIsQueuedUntilItsFirstTaskIsLeasedAndSucceedsWhenEveryTaskIsDone()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 3));

        var queued = await client.StatusAsync(scheduleId);
        Assert.Equal("QUEUED", queued.StatusCode());
        Assert.Equal((0, 3), queued.Progress());
        Assert.Equal((3, 0), queued.Workflow());

        var first = await worker.LeaseOneAsync();
        var running = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", running.StatusCode());
        Assert.Equal((0, 3), running.Progress());
        Assert.Equal((2, 1), running.Workflow());

        await worker.CompleteOkAsync(first, [Row("a0")]);
        var oneDone = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", oneDone.StatusCode());
        Assert.Equal((1, 3), oneDone.Progress());
        Assert.Equal((2, 0), oneDone.Workflow());
        Assert.Empty(oneDone.RawRows());

        foreach (var task in await worker.LeaseAsync(maxTasks: 2))
        {
            await worker.CompleteOkAsync(task, [Row(task.Name())]);
        }
        var done = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", done.StatusCode());
        Assert.Equal((3, 3), done.Progress());
        Assert.Equal((0, 0), done.Workflow());
        Assert.Equal([Row("a0"), Row("a1"), Row("a2")], done.RawRows());
    }
}

public sealed class LeaseResponseTestsOnPostgres() : LeaseResponseTests(StoreOptions.PostgresProvider);
