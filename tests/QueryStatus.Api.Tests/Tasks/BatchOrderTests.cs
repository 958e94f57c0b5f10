using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>
/// A task's rows enter its result in ascending batch number, whatever order the batches arrived in (a worker that
/// times out and re-sends an earlier batch after a later one is the ordinary case), then the complete call's rows;
/// on every store provider.
/// </summary>
public class BatchOrderTests(string provider = StoreOptions.InMemoryProvider)
{
    private static string[] BatchRows(long batch) => [Row($"b{batch}-r0"), Row($"b{batch}-r1")];

    private static string[] Expected(params long[] batches) => [.. batches.SelectMany(BatchRows)];

    private async Task<List<string>> RunAsync(long[] sendOrder, params string[] completeRows)
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();

        foreach (var batch in sendOrder)
        {
            await worker.RowsOkAsync(task, batch, BatchRows(batch));
        }
        await worker.CompleteOkAsync(task, completeRows);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        return status.RawRows();
    }

    public static TheoryData<long[]> ArrivalOrders => new([2, 0, 1], [1, 2, 0], [0, 1, 2]);

    [Theory]
    [MemberData(nameof(ArrivalOrders))]
    public async Task BatchesEnterTheResultInBatchNumberOrderWhateverTheArrivalOrder(long[] sendOrder) =>
        Assert.Equal(Expected(0, 1, 2), await RunAsync(sendOrder));

    [Fact]
    public async Task RepeatedBatchAmongOutOfOrderBatchesCountsOnceInItsPlace() =>
        Assert.Equal(Expected(0, 1, 2), await RunAsync([2, 0, 2, 1, 0]));

    public static TheoryData<long[], long[]> Gaps => new()
    {
        { [0, 2], [0, 2] },
        { [2, 0], [0, 2] },
        { [1000, 7, 999_999_999_999], [7, 1000, 999_999_999_999] },
    };

    [Theory]
    [MemberData(nameof(Gaps))]
    public async Task NumbersOrderTheBatchesAndNeedNotBeDense(long[] sendOrder, long[] resultOrder) =>
        Assert.Equal(Expected(resultOrder), await RunAsync(sendOrder));

    [Fact]
    public async Task CompleteCallsRowsComeAfterEveryBatch() =>
        Assert.Equal([.. Expected(0, 1), Row("last")], await RunAsync([1, 0], Row("last")));

    [Fact]
    public async Task RetriedTaskKeepsOnlyTheLastAttemptsRowsInBatchOrder()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));

        var first = await worker.LeaseOneAsync(leaseSeconds: 30);
        await worker.RowsOkAsync(first, 1, Row("first-attempt-1"));
        await worker.RowsOkAsync(first, 0, Row("first-attempt-0"));
        factory.Time.Advance(TimeSpan.FromSeconds(30));

        var second = await worker.LeaseOneAsync();
        Assert.Equal((first.TaskId, 2), (second.TaskId, second.Attempt));
        await worker.RowsOkAsync(second, 2, BatchRows(2));
        await worker.RowsOkAsync(second, 0, BatchRows(0));
        await worker.RowsOkAsync(second, 1, BatchRows(1));
        await worker.CompleteOkAsync(second);

        Assert.Equal(Expected(0, 1, 2), (await client.StatusAsync(scheduleId)).RawRows());
    }

    /// <summary>Submits a query of two sub-queries, leases both tasks, runs <paramref name="work"/> on them (q0, q1); returns the result's rows.</summary>
    private async Task<List<string>> TwoTasksAsync(Func<WorkerClient, WorkerTask, WorkerTask, Task> work, string? statusQuery = null)
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Subs("q", 2));
        var tasks = await worker.LeaseAsync(maxTasks: 2);
        await work(worker, tasks.Single(t => t.Name() == "q0"), tasks.Single(t => t.Name() == "q1"));
        return (await client.StatusAsync(scheduleId, statusQuery)).RawRows();
    }

    [Fact]
    public async Task TasksStayInSubQueryOrderWithTheirBatchesInBatchOrder()
    {
        var rows = await TwoTasksAsync(async (worker, q0, q1) =>
        {
            await worker.RowsOkAsync(q1, 1, Row("q1-b1"));
            await worker.RowsOkAsync(q0, 1, Row("q0-b1"));
            await worker.RowsOkAsync(q1, 0, Row("q1-b0"));
            await worker.RowsOkAsync(q0, 0, Row("q0-b0"));
            await worker.CompleteOkAsync(q1);
            await worker.CompleteOkAsync(q0);
        });

        Assert.Equal([Row("q0-b0"), Row("q0-b1"), Row("q1-b0"), Row("q1-b1")], rows);
    }

    [Fact]
    public async Task TasksOfMoreThanAMebibyteEachKeepSubQueryAndBatchOrder()
    {
        // About 3 MB a task: a completing task's staged rows move into the result with their full-size chunks
        // (RowBuffer.MoveFrom), into an empty result first (q1 completes first), after other rows next; then the
        // result is put in sub-query order, again sharing those chunks.
        const int perBatch = 1000;
        static string[] Big(string task, long batch) =>
            [.. Enumerable.Range(0, perBatch).Select(i => Row($"{task}-b{batch}-{i:D4}-{new string('x', 1000)}"))];
        string[] expected =
        [
            .. Big("q0", 0), .. Big("q0", 1), .. Big("q0", 2), Row("q0-last"),
            .. Big("q1", 0), .. Big("q1", 1), .. Big("q1", 2), Row("q1-last"),
        ];

        var rows = await TwoTasksAsync(async (worker, q0, q1) =>
        {
            await worker.RowsOkAsync(q1, 0, Big("q1", 0));
            await worker.RowsOkAsync(q0, 0, Big("q0", 0));
            await worker.RowsOkAsync(q1, 1, Big("q1", 1));
            await worker.RowsOkAsync(q0, 2, Big("q0", 2)); // q0's batches arrive out of order: copied in batch order
            await worker.RowsOkAsync(q0, 1, Big("q0", 1));
            await worker.RowsOkAsync(q1, 2, Big("q1", 2));
            await worker.CompleteOkAsync(q1, [Row("q1-last")]);
            await worker.CompleteOkAsync(q0, [Row("q0-last")]);
        }, $"offset_end={expected.Length}");

        Assert.Equal(expected, rows);
    }

    [Fact]
    public async Task BatchAfterTheTaskCompletedIsAConflictAndChangesNothing()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();
        await worker.RowsOkAsync(task, 1, BatchRows(1));
        await worker.CompleteOkAsync(task);

        await worker.RowsAsync(task, 0, BatchRows(0)).AssertConflictAsync();

        Assert.Equal(Expected(1), (await client.StatusAsync(scheduleId)).RawRows());
    }
}

public sealed class BatchOrderTestsOnPostgres() : BatchOrderTests(StoreOptions.PostgresProvider);
