using System.Net;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>A retryable failure is retried first, up to Scheduler:MaxAttempts; otherwise the run fails with the task's reason.</summary>
public class RetryTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task RetryableFailureIsRetriedFirstUntilTheTaskSucceeds()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 2));

        var attempt = await worker.LeaseOneAsync();
        for (var failed = 1; failed <= 2; failed++)
        {
            await worker.RowsOkAsync(attempt, 0, Row($"partial-{failed}"));
            var answer = await worker.FailOkAsync(attempt, "DATA_SOURCE_ERROR", "Connection reset.", retryable: true);
            Assert.Equal(("QUEUED", failed), (answer.GetProperty("state").GetString(), answer.GetProperty("attempt").GetInt32()));
            Assert.Equal("RUNNING", (await client.StatusAsync(scheduleId)).StatusCode());

            var retry = await worker.LeaseOneAsync();
            Assert.Equal((attempt.TaskId, "a0", failed + 1), (retry.TaskId, retry.Name(), retry.Attempt));
            await (await worker.RowsAsync(attempt, 1, Row("old lease"))).AssertEnvelopeAsync(HttpStatusCode.Conflict, "CONFLICT_ERROR");
            attempt = retry;
        }
        await worker.CompleteOkAsync(attempt, [Row("a0")]);
        var a1 = await worker.LeaseOneAsync();
        Assert.Equal((1, "a1"), (a1.Attempt, a1.Name()));
        await worker.CompleteOkAsync(a1, [Row("a1")]);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Null(status.Failure());
        Assert.Equal([Row("a0"), Row("a1")], status.RawRows());
    }

    [Fact]
    public async Task RetryableFailuresUntilMaxAttemptsFailTheRunWithTheTasksCodeAndMessage()
    {
        using var factory = NewFactory(provider, ("Scheduler:MaxAttempts", "3"));
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 3));

        string? lastState = null;
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var task = await worker.LeaseOneAsync();
            Assert.Equal(("a0", attempt), (task.Name(), task.Attempt));
            var answer = await worker.FailOkAsync(task, "WAREHOUSE_TIMEOUT", $"The warehouse timed out (try {attempt}).", retryable: true);
            lastState = answer.GetProperty("state").GetString();
        }

        Assert.Equal("FAILED", lastState);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("WAREHOUSE_TIMEOUT", status.Failure()?.Code);
        Assert.Equal("The warehouse timed out (try 3).", status.Failure()?.Message);
        status.AssertFailure("WAREHOUSE_TIMEOUT");
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10));
    }

    [Fact]
    public async Task NonRetryableFailureFailsTheRunAtOnceAndDropsItsOtherTasks()
    {
        using var factory = NewFactory(provider);
        var (license, bystander) = (TestData.NewLicenseId(), TestData.NewLicenseId());
        using var client = factory.CreateClientWithJwt(license);
        using var bystanderClient = factory.CreateClientWithJwt(bystander);
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 5));
        var otherRun = await client.SubmitAsync(Subs("x", 1));
        var leased = await worker.LeaseAsync(maxTasks: 2);
        Assert.Equal(["a0", "a1"], leased.Select(t => t.Name()));
        var (failing, sibling) = (leased[0], leased[1]);
        var bystanderRun = await bystanderClient.SubmitAsync(Subs("b", 1));
        await worker.RowsOkAsync(sibling, 0, Row("a1-staged"));

        var answer = await worker.FailOkAsync(failing, "SYNTAX_ERROR", "Unknown column 'y'.", retryable: false);

        Assert.Equal("FAILED", answer.GetProperty("state").GetString());
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("Unknown column 'y'.", status.AssertFailure("SYNTAX_ERROR"));
        Assert.Equal((0, 5), status.Progress());
        await LeaseExpiryTests.AssertRefusedAsync(worker, sibling);

        // a2..a4 are gone; the license's other run and other licenses carry on.
        var rest = await worker.LeaseAsync(maxTasks: 10);
        Assert.Equal(["b0", "x0"], rest.Select(t => t.Name()).Order(StringComparer.Ordinal));
        Assert.Equal((0, 1), (await client.StatusAsync(otherRun)).Workflow());
        Assert.Equal("RUNNING", (await bystanderClient.StatusAsync(bystanderRun)).StatusCode());
        Assert.Equal("SYNTAX_ERROR", (await client.StatusAsync(scheduleId)).Failure()?.Code);
    }

    [Fact]
    public async Task FailureThatDoesNotSayRetryableIsNotRetried()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 2));
        var task = await worker.LeaseOneAsync();

        using var response = await worker.PostAsync($"/{task.TaskId}/fail",
            $$"""{"lease_token":"{{task.LeaseToken}}","code":"BROKEN","message":"It broke."}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        (await client.StatusAsync(scheduleId)).AssertFailure("BROKEN");
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10));
    }
}

public sealed class RetryTestsOnPostgres() : RetryTests(StoreOptions.PostgresProvider);
