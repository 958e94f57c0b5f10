using System.Net;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>Task calls that cannot apply: a stopped run (409), an unknown task (404), an invalid body (400 naming the field).</summary>
public class TaskCallErrorTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task TokensOfAStoppedRunAreRefused()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 3));
        var leased = await worker.LeaseAsync(maxTasks: 2);
        await worker.RowsOkAsync(leased[0], 0, Row("a0"));

        var stopped = await client.StopAsync(scheduleId);
        Assert.Equal("STOPPED", stopped.StatusCode());

        foreach (var task in leased)
        {
            var description = await (await worker.CompleteAsync(task, [Row("late")])).AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
            Assert.Contains("stopped", description, StringComparison.OrdinalIgnoreCase);
            await LeaseExpiryTests.AssertRefusedAsync(worker, task);
        }
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10)); // a2 was dropped
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("STOPPED", status.StatusCode());
        Assert.Equal((0, 0), status.Workflow());
        Assert.Empty(status.RawRows());
    }

    [Fact]
    public async Task UnknownTaskIdIsNotFound()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(Sub("a0"));
        var real = await worker.LeaseOneAsync();
        const string unknown = "t_doesNotExist000000000";

        await (await worker.HeartbeatAsync(unknown, real.LeaseToken)).AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await (await worker.RowsAsync(unknown, real.LeaseToken, 0, Row("r"))).AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await (await worker.CompleteAsync(unknown, real.LeaseToken)).AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await (await worker.FailAsync(unknown, real.LeaseToken, "E", "m", false)).AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");

        // The real task's lease is untouched by calls naming another task.
        Assert.Equal("RUNNING", (await WorkerClient.OkAsync(worker.HeartbeatAsync(real))).GetProperty("state").GetString());
    }

    public static readonly TheoryData<string, string> InvalidLeaseBodies = new()
    {
        { """{"worker_id":"w","max_tasks":0}""", "max_tasks" },
        { """{"worker_id":"w","max_tasks":101}""", "max_tasks" },
        { """{"worker_id":"w","lease_seconds":4}""", "lease_seconds" },
        { """{"worker_id":"w","lease_seconds":601}""", "lease_seconds" },
        { """{"worker_id":"w","wait_seconds":31}""", "wait_seconds" },
        { """{"worker_id":"w","wait_seconds":-1}""", "wait_seconds" },
        { """{"max_tasks":1}""", "worker_id" },
        { """{"worker_id":"w","worker_id":"v"}""", "worker_id" },
    };

    [Theory]
    [MemberData(nameof(InvalidLeaseBodies))]
    public async Task InvalidLeaseBodyIsRefusedNamingTheField(string body, string field)
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(Sub("a0"));

        var description = await (await worker.PostAsync("/lease", body)).AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");

        Assert.Contains(field, description, StringComparison.Ordinal);
        Assert.Equal("a0", (await worker.LeaseOneAsync()).Name()); // the refused call leased nothing
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=iso-8859-1")]
    public async Task LeaseBodyInACharsetOtherThanUtf8IsUnsupportedAndLeasesNothing(string contentType)
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(Sub("a0"));
        using var content = new ByteArrayContent("""{"worker_id":"w"}"""u8.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await worker.Http.PostAsync(WorkerClient.Prefix + "/lease", content);

        await response.AssertEnvelopeAsync(HttpStatusCode.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE");
        Assert.Equal("a0", (await worker.LeaseOneAsync()).Name());
    }

    public static readonly TheoryData<string, string, string> InvalidTaskCallBodies = new()
    {
        { "rows", """{"batch":0,"rows":[]}""", "lease_token" },
        { "rows", """{"lease_token":"{token}","rows":[{"v":1}]}""", "batch" },
        { "rows", """{"lease_token":"{token}","batch":-1,"rows":[{"v":1}]}""", "batch" },
        { "rows", """{"lease_token":"{token}","batch":0}""", "rows" },
        { "complete", """{"rows":[{"v":1}]}""", "lease_token" },
        { "heartbeat", """{"lease_token":"{token}","lease_seconds":4}""", "lease_seconds" },
        { "heartbeat", """{"lease_token":"{token}","lease_seconds":601}""", "lease_seconds" },
        { "fail", """{"lease_token":"{token}","message":"m","retryable":false}""", "code" },
        { "fail", """{"lease_token":"{token}","code":"E","retryable":false}""", "message" },
        { "fail", """{"code":"E","message":"m"}""", "lease_token" },
        { "fail", """{"lease_token":"{token}","code":"E\u0000","message":"m"}""", "code" },
        { "fail", """{"lease_token":"{token}","code":"E","message":"a NUL \u0000 here"}""", "message" },
        { "complete", """{"lease_token":"{token}","lease_token":"{token}","rows":[{"v":1}]}""", "lease_token" },
    };

    [Theory]
    [MemberData(nameof(InvalidTaskCallBodies))]
    public async Task InvalidTaskCallBodyIsRefusedNamingTheField(string call, string body, string field)
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a0"));
        var task = await worker.LeaseOneAsync();

        var response = await worker.PostAsync($"/{task.TaskId}/{call}", body.Replace("{token}", task.LeaseToken, StringComparison.Ordinal));
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");

        Assert.Contains(field, description, StringComparison.Ordinal);
        // The refused call changed nothing: the lease holds, and the run is where it was.
        await worker.CompleteOkAsync(task, [Row("a0")]);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal([Row("a0")], status.RawRows());
    }
}

public sealed class TaskCallErrorTestsOnPostgres() : TaskCallErrorTests(StoreOptions.PostgresProvider);
