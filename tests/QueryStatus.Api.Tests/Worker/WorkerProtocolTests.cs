using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Worker;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Worker;

/// <summary>QueryStatus.Worker against the real service: a handler's rows, batches, sub-queries and failures.</summary>
public sealed class WorkerProtocolTests
{
    private static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);

    private static async Task<List<string>> ResultRowsAsync(HttpClient client, string scheduleId) =>
        [.. (await client.ReadAllRowsAsync(scheduleId, pageSize: 100)).Select(r => r.GetRawText())];

    [Fact]
    public async Task RowsOfAHandlerArriveByteForByteInOrderAndCompleteTheQuery()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Subs("s", 3));
        // Odd spacing, a JsonElement and raw bytes alike: rows must reach the result exactly as the handler wrote them.
        static string RowText(string sub, int i) => $"{{ \"sub\":\"{sub}\",  \"i\": {i}, \"x\":1.50 }}";
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (task, rows, ct) =>
        {
            var sub = task.Payload.GetProperty("q").GetString()!;
            for (var i = 0; i < 5; i++)
            {
                if (i % 2 == 0)
                {
                    await rows.AddRawAsync(Utf8(RowText(sub, i)), ct);
                }
                else
                {
                    using var document = JsonDocument.Parse(RowText(sub, i));
                    await rows.AddAsync(document.RootElement, ct);
                }
            }
        }), o => o.BatchRows = 2);

        var status = await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        Assert.Equal((3, 3), status.Progress());
        Assert.Equal([.. from sub in new[] { "s0", "s1", "s2" } from i in Enumerable.Range(0, 5) select RowText(sub, i)],
            await ResultRowsAsync(client, scheduleId));
    }

    [Fact]
    public async Task RowsGoInNumberedBatchesOfAtMostBatchRowsAndTheRestGoWithTheCompletion()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var expected = Enumerable.Range(0, 10).Select(i => $"{{\"i\":{i}}}").ToList();
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (_, rows, ct) =>
        {
            foreach (var row in expected)
            {
                await rows.AddRawAsync(Utf8(row), ct);
            }
        }), o => o.BatchRows = 3);

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        var batches = worker.Calls.Of("rows");
        Assert.Equal([0L, 1L, 2L], batches.Select(b => b.Batch));
        Assert.Equal([expected[0..3], expected[3..6], expected[6..9]], batches.Select(b => b.Rows.ToList()));
        Assert.Equal([expected[9]], Assert.Single(await worker.AnsweredAsync("complete")).Rows);
        Assert.Equal(expected, await ResultRowsAsync(client, scheduleId));
    }

    [Fact]
    public async Task BatchesStayWithinBatchBytesAndARowLargerThanThatGoesAlone()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        static string Padded(int i, int length)
        {
            var (head, tail) = ($"{{\"i\":{i},\"pad\":\"", "\"}");
            return head + new string('x', length - head.Length - tail.Length) + tail;
        }
        var expected = Enumerable.Range(0, 10).Select(i => Padded(i, i == 5 ? 2000 : 300)).ToList();
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (_, rows, ct) =>
        {
            foreach (var row in expected)
            {
                await rows.AddRawAsync(Utf8(row), ct);
            }
        }), o => o.BatchBytes = 1024);

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        // 3 rows of 300 bytes fill 902 of 1,024 bytes; a fourth would not fit. The 2,000-byte row goes on its own.
        var batches = worker.Calls.Of("rows");
        Assert.Equal([3, 2, 1, 3], batches.Select(b => b.Rows.Count));
        Assert.Equal([0L, 1L, 2L, 3L], batches.Select(b => b.Batch));
        Assert.All(batches.Where(b => b.Rows.Count > 1), b => Assert.True(b.Rows.Sum(r => r.Length) + b.Rows.Count - 1 <= 1024));
        Assert.Equal([expected[5]], batches[2].Rows);
        Assert.Equal([expected[9]], Assert.Single(await worker.AnsweredAsync("complete")).Rows);
        Assert.Equal(expected, await ResultRowsAsync(client, scheduleId));
    }

    [Fact]
    public async Task SubQueriesAddedByAHandlerJoinTheQueryAndTheirRowsFollowItsOwn()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("root"));
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (task, rows, ct) =>
        {
            var name = task.Payload.GetProperty("q").GetString()!;
            if (name == "root")
            {
                rows.AddSubQuery(Parse(Sub("child0")));
                rows.AddRawSubQuery(Utf8(Sub("child1")));
            }
            await rows.AddRawAsync(Utf8(Row(name)), ct);
        }));

        var status = await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        Assert.Equal((3, 3), status.Progress());
        Assert.Equal([Row("root"), Row("child0"), Row("child1")], await ResultRowsAsync(client, scheduleId));
        var rootCompletion = Assert.Single(await worker.AnsweredAsync("complete"), c => c.Json.TryGetProperty("subqueries", out _));
        Assert.Equal([Sub("child0"), Sub("child1")], rootCompletion.Json.GetProperty("subqueries").EnumerateArray().Select(s => s.GetRawText()));
    }

    [Fact]
    public async Task ARetryableExceptionIsReportedAsRetryableAndTheSecondAttemptCompletesTheQuery()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var handler = new DelegateHandler(async (task, rows, ct) =>
        {
            await rows.AddRawAsync(Utf8(Row($"attempt{task.Attempt}")), ct); // sent at once (BatchRows 1)
            if (task.Attempt == 1)
            {
                throw new RetryableTaskException("The warehouse timed out.");
            }
        });
        await using var worker = await WorkerHarness.StartAsync(factory, handler, o => o.BatchRows = 1);

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        Assert.Equal(2, handler.Executions);
        var fail = Assert.Single(await worker.AnsweredAsync("fail")).Json;
        Assert.Equal(("TRANSIENT_ERROR", "The warehouse timed out.", true),
            (fail.GetProperty("code").GetString(), fail.GetProperty("message").GetString(), fail.GetProperty("retryable").GetBoolean()));
        // The first attempt's batch was discarded with its lease.
        Assert.Equal([Row("attempt2")], await ResultRowsAsync(client, scheduleId));
    }

    [Fact]
    public async Task ATaskFailureExceptionFailsTheQueryWithItsCodeAndMessage()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Subs("a", 2));
        var handler = new DelegateHandler((task, _, _) =>
            throw new TaskFailureException("DATA_SOURCE_ERROR", "The warehouse has no table ads_2026."));
        await using var worker = await WorkerHarness.StartAsync(factory, handler, o => o.MaxConcurrentTasks = 1);

        var status = await WorkerHarness.WaitForStatusAsync(client, scheduleId, "FAILURE");

        Assert.Equal("The warehouse has no table ads_2026.", status.AssertFailure("DATA_SOURCE_ERROR"));
        Assert.False(Assert.Single(await worker.AnsweredAsync("fail")).Json.GetProperty("retryable").GetBoolean());
    }

    [Fact]
    public async Task AnyOtherExceptionFailsTheQueryAsWorkerErrorWithoutItsMessage()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var handler = new DelegateHandler((_, _, _) =>
            throw new InvalidOperationException("Could not connect: Host=db;Password=hunter2"));
        await using var worker = await WorkerHarness.StartAsync(factory, handler);

        var status = await WorkerHarness.WaitForStatusAsync(client, scheduleId, "FAILURE");

        var message = status.AssertFailure("WORKER_ERROR");
        Assert.Contains("InvalidOperationException", message);
        Assert.DoesNotContain("hunter2", message);
        Assert.False(Assert.Single(await worker.AnsweredAsync("fail")).Json.GetProperty("retryable").GetBoolean());
        // The worker's own log keeps the exception for its operator.
        await WorkerHarness.EventuallyAsync(
            () => worker.Logs.GetSnapshot().Any(r => r.Level == LogLevel.Error && r.Exception is InvalidOperationException), "the exception logged");
    }

    [Fact]
    public async Task ARefusedCallIsLoggedWithTheCodeAndDescriptionOfTheServicesEnvelope()
    {
        using var factory = new QueryStatusFactory { Settings = new Dictionary<string, string?> { ["Scheduler:MaxRowsPerRun"] = "3" } };
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (_, rows, ct) =>
        {
            for (var i = 0; i < 10; i++)
            {
                await rows.AddRawAsync(Utf8($"{{\"i\":{i}}}"), ct);
            }
        }), o => o.BatchRows = 5);

        // The first batch passes the run's row limit: the service answers 409 and fails the query.
        var status = await WorkerHarness.WaitForStatusAsync(client, scheduleId, "FAILURE");
        status.AssertFailure("RESULT_TOO_LARGE");

        await WorkerHarness.EventuallyAsync(() => worker.Logs.GetSnapshot().Any(r => r.Level == LogLevel.Warning
            && r.Message.Contains("(409 CONFLICT_ERROR)", StringComparison.Ordinal)
            && r.Message.Contains("The run failed with RESULT_TOO_LARGE", StringComparison.Ordinal)), "the refusal logged with the envelope's code and description");
    }

    [Fact]
    public async Task AnInvalidRowIsRefusedWhenAddedNotSentToTheService()
    {
        using var factory = new QueryStatusFactory();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        Exception? refused = null;
        await using var worker = await WorkerHarness.StartAsync(factory, new DelegateHandler(async (_, rows, ct) =>
        {
            refused = await Record.ExceptionAsync(() => rows.AddRawAsync(Utf8("{\"a\":1} {\"b\":2}"), ct).AsTask());
            await rows.AddRawAsync(Utf8(Row("ok")), ct);
        }));

        await WorkerHarness.WaitForStatusAsync(client, scheduleId, "SUCCESS");

        Assert.IsType<ArgumentException>(refused);
        Assert.Equal([Row("ok")], await ResultRowsAsync(client, scheduleId));
    }
}
