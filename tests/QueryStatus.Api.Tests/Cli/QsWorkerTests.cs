using System.Text;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Cli;

/// <summary>
/// <c>qs</c> while workers run the query (over the worker endpoints, as <see cref="WorkerClient"/>): a service per
/// test, since workers lease from every license. Each step waits for qs to show the previous one, so every state is
/// seen; nothing depends on how long anything takes.
/// </summary>
public sealed class QsWorkerTests : IDisposable
{
    private readonly QueryStatusFactory factory;
    private readonly Qs qs;

    public QsWorkerTests() : this(new QueryStatusFactory())
    {
    }

    private QsWorkerTests(QueryStatusFactory factory)
    {
        this.factory = factory;
        qs = new Qs(factory);
    }

    public void Dispose() => factory.Dispose();

    private async Task<string> SubmittedAsync(int subQueries)
    {
        var scheduleId = TestData.NewScheduleId("cli");
        await factory.CreateClientWithApiKey().SubmitAsync(scheduleId, subQueries);
        return scheduleId;
    }

    private static Task ShownAsync(QsRun run, string line) =>
        QsWait.UntilAsync(() => run.Stdout.Split('\n').Contains(line), $"qs to print '{line}' (so far: {run.Stdout})");

    [Fact]
    public async Task StatusWaitPrintsOneLinePerChangeWhenOutputIsNotATerminal()
    {
        var scheduleId = await SubmittedAsync(2);
        using var worker = factory.CreateWorker();

        var run = qs.Start(["status", scheduleId, "--wait"]);
        await ShownAsync(run, "QUEUED 0/2");
        var first = await worker.LeaseOneAsync();
        await ShownAsync(run, "RUNNING 0/2");
        await worker.CompleteOkAsync(first, [Row("1")]);
        await ShownAsync(run, "RUNNING 1/2");
        var second = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(second, [Row("2")]);
        var result = await run.Completion;

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            ["QUEUED 0/2", "RUNNING 0/2", "RUNNING 1/2", "SUCCESS 2/2", $"schedule_id  {scheduleId}", "status       SUCCESS", "progress     2/2", "total_rows   2"],
            result.StdoutLines.Where(l => !l.StartsWith("expires_at", StringComparison.Ordinal)));
        Assert.DoesNotContain("\u001b", result.Stdout); // no ANSI escapes in a file or pipe
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task StatusWaitExits1WhenTheQueryFails()
    {
        var scheduleId = await SubmittedAsync(1);
        using var worker = factory.CreateWorker();

        var run = qs.Start(["status", scheduleId, "--wait"]);
        await ShownAsync(run, "QUEUED 0/1");
        await worker.FailOkAsync(await worker.LeaseOneAsync(), "DATA_SOURCE_ERROR", "The source said no.", retryable: false);
        var result = await run.Completion;

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("FAILURE 0/1", result.StdoutLines); // a failed sub-query is not a ready one
        Assert.Contains("failure      DATA_SOURCE_ERROR: The source said no.", result.StdoutLines);
    }

    [Fact]
    public async Task StatusWaitExits1WhenTheQueryIsStoppedMeanwhile()
    {
        var scheduleId = await SubmittedAsync(2);

        var run = qs.Start(["status", scheduleId, "--wait"]);
        await ShownAsync(run, "QUEUED 0/2");
        var stop = await qs.RunAsync("stop", scheduleId);
        var result = await run.Completion;

        Assert.Equal(0, stop.ExitCode);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(["QUEUED 0/2", "STOPPED 0/2"], result.StdoutLines.Take(2));
    }

    [Fact]
    public async Task StatusWaitJsonPrintsOnlyTheFinalJson()
    {
        var scheduleId = await SubmittedAsync(1);
        using var worker = factory.CreateWorker();

        var run = qs.Start(["status", scheduleId, "--wait", "--json"]);
        await worker.CompleteOkAsync(await worker.LeaseOneAsync(), [Row("1")]);
        var result = await run.Completion;

        Assert.Equal(0, result.ExitCode);
        var json = Parse(Assert.Single(result.StdoutLines));
        Assert.Equal(("SUCCESS", 1), (json.GetProperty("status_code").GetString(), json.GetProperty("total_rows").GetInt32()));
    }

    [Fact]
    public async Task StatusWaitDrawsALiveProgressBarOnATerminal()
    {
        var scheduleId = await SubmittedAsync(2);
        using var worker = factory.CreateWorker();
        qs.Terminal = true;

        var run = qs.Start(["status", scheduleId, "--wait"]);
        await QsWait.UntilAsync(() => run.Stdout.Contains($"{scheduleId} QUEUED 0/2"), "the bar to show QUEUED");
        await worker.CompleteOkAsync(await worker.LeaseOneAsync(), [Row("1")]);
        await QsWait.UntilAsync(() => run.Stdout.Contains($"{scheduleId} RUNNING 1/2"), "the bar to show RUNNING 1/2");
        await worker.CompleteOkAsync(await worker.LeaseOneAsync(), [Row("2")]);
        var result = await run.Completion;

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("\u001b[", result.Stdout);   // drawn in place, with ANSI escapes
        Assert.Contains("50%", result.Stdout);
        Assert.Contains($"{scheduleId} SUCCESS 2/2", result.Stdout);
        Assert.Contains("100%", result.Stdout);
        Assert.DoesNotContain("\nRUNNING 1/2\n", result.Stdout); // not the plain lines
    }

    [Fact]
    public async Task CtrlCEndsAWaitWithExit130()
    {
        var scheduleId = await SubmittedAsync(1);
        using var interrupt = new CancellationTokenSource();

        var run = qs.Start(["status", scheduleId, "--wait"], cancellation: interrupt.Token);
        await ShownAsync(run, "QUEUED 0/1");
        interrupt.Cancel();
        var result = await run.Completion;

        Assert.Equal(130, result.ExitCode);
        Assert.Equal("qs: interrupted.\n", result.Stderr);
    }

    [Fact]
    public async Task RowsAreTheRowsTheWorkerSentByteForByte()
    {
        var scheduleId = await SubmittedAsync(2);
        using var worker = factory.CreateWorker();
        string[] first = ["{\"n\":1,\"s\":\"\\u00e9\\t\"}", "[1, 2 ,3]", "\"text\"", "12.50", "null"];
        string[] second = ["{ \"n\" : 2 }", "{\"emoji\":\"😀\",\"esc\":\"\\ud83d\\ude00\"}"];
        var tasks = await worker.LeaseAsync(2);
        var (a, b) = (tasks.WithQ(0), tasks.WithQ(1));
        await worker.RowsOkAsync(a, 0, first[..3]);
        await worker.CompleteOkAsync(a, first[3..]);
        await worker.CompleteOkAsync(b, second);

        var result = await qs.RunAsync("rows", scheduleId, "--page-size", "2");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Encoding.UTF8.GetBytes(string.Concat(first.Concat(second).Select(r => r + "\n"))), result.StdoutBytes);
    }

    [Fact]
    public async Task AWaitAgainstAServiceThatDoesNotHoldLongPollsPacesItsPolls()
    {
        // Status:MaxWaiters 0: every long-poll is answered at once, a 304 while nothing changed.
        using var busy = new QueryStatusFactory { Settings = new Dictionary<string, string?> { ["Status:MaxWaiters"] = "0" } };
        var scheduleId = TestData.NewScheduleId("cli");
        await busy.CreateClientWithApiKey().SubmitAsync(scheduleId, 1);
        var clock = new FakeTimeProvider(QueryStatusFactory.Start);
        var requests = 0;
        var cli = new Qs(busy)
        {
            Time = clock,
            Handler = () => new CountingHandler(() => Interlocked.Increment(ref requests)) { InnerHandler = busy.Server.CreateHandler() },
        };

        var run = cli.Start(["status", scheduleId, "--wait"]);
        // The first look (200), one long-poll answered at once (304), then a pause on the client's clock.
        await QsWait.UntilAsync(() => Volatile.Read(ref requests) >= 2 && clock.PendingTimers() == 1, "qs to pause after a 304 that came at once");
        Assert.Equal(2, Volatile.Read(ref requests));
        await busy.CreateClientWithApiKey().StopAsync(scheduleId);
        clock.Advance(TimeSpan.FromSeconds(2));
        var result = await run.Completion;

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(3, Volatile.Read(ref requests));
        Assert.Equal(["QUEUED 0/1", "STOPPED 0/1"], result.StdoutLines.Take(2));
    }

    private sealed class CountingHandler(Action count) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            count();
            return base.SendAsync(request, cancellationToken);
        }
    }
}
