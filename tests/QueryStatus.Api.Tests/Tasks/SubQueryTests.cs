using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>A completing task may add sub-queries: they join the same run, which succeeds only when they are done too.</summary>
public class SubQueryTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task SubQueriesAddedOnCompletionJoinTheRunAndComeLastInTheResult()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("p", 2));

        var p0 = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(p0, [Row("p0")], [Sub("c0"), Sub("c1")]);
        var grown = await client.StatusAsync(scheduleId);
        Assert.Equal((1, 4), grown.Progress());
        Assert.Equal((3, 0), grown.Workflow());

        // The new sub-queries queue behind the ones already waiting, in the same run.
        var leased = await worker.LeaseAsync(maxTasks: 10);
        Assert.Equal(["p1", "c0", "c1"], leased.Select(t => t.Name()));
        Assert.All(leased, t => Assert.Equal((scheduleId, 1), (t.ScheduleId, t.Attempt)));
        var (p1, c0, c1) = (leased[0], leased[1], leased[2]);

        // Finish out of order: c1, then c0 (which adds a grandchild), then p1.
        await worker.CompleteOkAsync(c1, [Row("c1-0"), Row("c1-1")]);
        await worker.CompleteOkAsync(c0, [Row("c0")], [Sub("g0")]);
        await worker.CompleteOkAsync(p1, [Row("p1")]);
        var waiting = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", waiting.StatusCode());
        Assert.Equal((4, 5), waiting.Progress());
        Assert.Empty(waiting.RawRows());

        var g0 = await worker.LeaseOneAsync();
        Assert.Equal(("g0", scheduleId), (g0.Name(), g0.ScheduleId));
        await worker.CompleteOkAsync(g0, [Row("g0")]);

        var done = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", done.StatusCode());
        Assert.Equal((5, 5), done.Progress());
        Assert.Equal([Row("p0"), Row("p1"), Row("c0"), Row("c1-0"), Row("c1-1"), Row("g0")], done.RawRows());
    }

    [Fact]
    public async Task LastTaskThatAddsSubQueriesKeepsTheRunRunning()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("only"));

        var only = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(only, [Row("only")], [Sub("more")]);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("RUNNING", status.StatusCode());
        Assert.Equal((1, 2), status.Progress());
        var more = await worker.LeaseOneAsync();
        Assert.Equal("more", more.Name());
        await worker.CompleteOkAsync(more);

        var done = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", done.StatusCode());
        Assert.Equal([Row("only")], done.RawRows());
    }

    [Fact]
    public async Task SubQueriesOfAFailedRunAreDroppedWithIt()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("p", 2));
        var (p0, p1) = (await worker.LeaseOneAsync(), await worker.LeaseOneAsync());
        await worker.CompleteOkAsync(p0, [Row("p0")], [Sub("c0"), Sub("c1")]);

        await worker.FailOkAsync(p1, "DATA_SOURCE_ERROR", "Gone.", retryable: false);

        var status = await client.StatusAsync(scheduleId);
        status.AssertFailure("DATA_SOURCE_ERROR");
        Assert.Equal((1, 4), status.Progress());
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10));
    }
}

public sealed class SubQueryTestsOnPostgres() : SubQueryTests(StoreOptions.PostgresProvider);
