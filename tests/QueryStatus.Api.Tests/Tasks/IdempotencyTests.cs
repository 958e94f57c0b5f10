using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>A worker that repeats a call (say, after a timeout) changes nothing the second time.</summary>
public class IdempotencyTests(string provider = StoreOptions.InMemoryProvider)
{
    [Fact]
    public async Task RepeatedRowBatchIsAcknowledgedAsDuplicateAndAddsNothing()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a0"));
        var task = await worker.LeaseOneAsync();

        var first = await worker.RowsOkAsync(task, 0, Row("r0"), Row("r1"));
        Assert.False(first.GetProperty("duplicate").GetBoolean());
        Assert.Equal(2, first.GetProperty("rows_accepted").GetInt64());

        var repeated = await worker.RowsOkAsync(task, 0, Row("r0"), Row("r1"));
        Assert.True(repeated.GetProperty("duplicate").GetBoolean());
        Assert.Equal(0, repeated.GetProperty("rows_accepted").GetInt64());

        // The batch number decides, not the rows: a different body under a used number is still a repeat.
        var reused = await worker.RowsOkAsync(task, 0, Row("other"));
        Assert.True(reused.GetProperty("duplicate").GetBoolean());

        Assert.False((await worker.RowsOkAsync(task, 1, Row("r2"))).GetProperty("duplicate").GetBoolean());
        Assert.True((await worker.RowsOkAsync(task, 1, Row("r2"))).GetProperty("duplicate").GetBoolean());
        await worker.CompleteOkAsync(task, [Row("r3")]);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal([Row("r0"), Row("r1"), Row("r2"), Row("r3")], status.RawRows());
    }

    [Fact]
    public async Task BatchNumbersNeedNotBeConsecutiveOrAscending()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a0"));
        var task = await worker.LeaseOneAsync();

        await worker.RowsOkAsync(task, 5, Row("five"));
        await worker.RowsOkAsync(task, 2, Row("two"));
        Assert.True((await worker.RowsOkAsync(task, 5, Row("five"))).GetProperty("duplicate").GetBoolean());
        await worker.CompleteOkAsync(task);

        Assert.Equal([Row("two"), Row("five")], (await client.StatusAsync(scheduleId)).RawRows());
    }

    [Fact]
    public async Task CompletingTwiceWithTheSameTokenChangesNothing()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("a", 2));
        var (a0, a1) = (await worker.LeaseOneAsync(), await worker.LeaseOneAsync());

        var completed = await worker.CompleteOkAsync(a0, [Row("a0")], [Sub("c0")]);
        Assert.Equal(("DONE", false), (completed.GetProperty("state").GetString(), completed.GetProperty("duplicate").GetBoolean()));
        var repeated = await worker.CompleteOkAsync(a0, [Row("a0")], [Sub("c0")]);
        Assert.Equal(("DONE", true), (repeated.GetProperty("state").GetString(), repeated.GetProperty("duplicate").GetBoolean()));

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal((1, 3), status.Progress());
        Assert.Equal((1, 1), status.Workflow());

        await worker.CompleteOkAsync(a1, [Row("a1")]);
        var c0 = await worker.LeaseOneAsync();
        Assert.Equal("c0", c0.Name());
        Assert.Empty(await worker.LeaseAsync(maxTasks: 10));
        await worker.CompleteOkAsync(c0, [Row("c0")]);

        // Repeating the last completion after the run succeeded is still a harmless repeat.
        Assert.True((await worker.CompleteOkAsync(c0, [Row("c0")], [Sub("late")])).GetProperty("duplicate").GetBoolean());
        var done = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", done.StatusCode());
        Assert.Equal((3, 3), done.Progress());
        Assert.Equal([Row("a0"), Row("a1"), Row("c0")], done.RawRows());
    }
}

public sealed class IdempotencyTestsOnPostgres() : IdempotencyTests(StoreOptions.PostgresProvider);
