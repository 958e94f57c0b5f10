using System.Net;
using System.Text;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Cli;

/// <summary>
/// <c>qs</c> commands against the real service, without workers (results are put in the store directly): so the
/// tests share one service and keep apart by their schedule IDs. <see cref="QsWorkerTests"/> has those with workers.
/// </summary>
public sealed class QsCommandTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>, IDisposable
{
    private readonly Qs qs = new(factory);
    private readonly List<string> files = [];

    public void Dispose() => files.ForEach(File.Delete);

    private const string License = "lic_test"; // TestKeys.Primary's

    /// <summary>A SUCCESS query of lic_test whose rows are <paramref name="rows"/>, stored byte for byte.</summary>
    private async Task<string> SucceededAsync(params string[] rows)
    {
        var record = new ScheduleRecord(TestData.NewScheduleId("cli"), License, ScheduleStatus.Success,
            [SubQueryState.Done], TestData.Rows(rows.Length, i => rows[i]), null, null);
        await factory.PutAsync(record);
        return record.ScheduleId;
    }

    private async Task<string> SubmittedAsync(int subQueries = 2)
    {
        var scheduleId = TestData.NewScheduleId("cli");
        await factory.CreateClientWithApiKey().SubmitAsync(scheduleId, subQueries);
        return scheduleId;
    }

    private string TempFile(string content)
    {
        var path = Path.Combine(Path.GetTempPath(), $"qs-test-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, content);
        files.Add(path);
        return path;
    }

    private static void AssertExit(int expected, QsResult result) => Assert.True(result.ExitCode == expected, $"Expected exit {expected}, got {result}");

    // ---- submit ------------------------------------------------------------------------------------

    [Fact]
    public async Task SubmitSendsTheFilesBodyAndPrintsOnlyTheScheduleId()
    {
        var scheduleId = TestData.NewScheduleId("cli");
        var file = TempFile(SubmitBody(scheduleId, [Sub("a"), Sub("b")]));

        var result = await qs.RunAsync("submit", file);

        AssertExit(0, result);
        Assert.Equal(scheduleId + "\n", result.Stdout);
        Assert.Equal("", result.Stderr);
        var status = await factory.CreateClientWithApiKey().StatusAsync(scheduleId);
        Assert.Equal(("QUEUED", (0, 2)), (status.StatusCode(), status.Progress()));
    }

    [Fact]
    public async Task SubmitDashReadsTheBodyFromStandardInput()
    {
        var result = await qs.RunWithInputAsync("""{"subqueries":[{"q":1}]}""", "submit", "-");

        AssertExit(0, result);
        var scheduleId = Assert.Single(result.StdoutLines);
        Assert.StartsWith("q_", scheduleId); // named by the server
        Assert.Equal("QUEUED", (await factory.CreateClientWithApiKey().StatusAsync(scheduleId)).StatusCode());
    }

    [Theory]
    [InlineData("{\"subqueries\": [", "is not JSON")]
    [InlineData("[{\"q\":1}]", "must hold a JSON object")]
    [InlineData("", "is not JSON")]
    public async Task SubmitOfABadFileIsAUsageError(string content, string message)
    {
        var file = TempFile(content);

        var result = await qs.RunAsync("submit", file);

        AssertExit(2, result);
        Assert.Equal("", result.Stdout);
        Assert.Contains(message, result.Stderr);
    }

    [Fact]
    public async Task SubmitOfAMissingFileIsAUsageError()
    {
        var result = await qs.RunAsync("submit", Path.Combine(Path.GetTempPath(), "qs-no-such-file.json"));

        AssertExit(2, result);
        Assert.Contains("cannot read", result.Stderr);
        Assert.Contains("qs-no-such-file.json", result.Stderr);
    }

    [Fact]
    public async Task SubmitRejectedByTheServiceIsExit3WithTheEnvelope()
    {
        var scheduleId = await SubmittedAsync();

        // The same ID again while its run has not finished: 409.
        var result = await qs.RunWithInputAsync(SubmitBody(scheduleId, [Sub("a")]), "submit", "-");

        AssertExit(3, result);
        Assert.Equal("", result.Stdout);
        Assert.Contains("CONFLICT_ERROR", result.Stderr);
        Assert.Matches("HTTP 409, request_id: [A-Za-z0-9_-]{32}", result.Stderr);
    }

    // ---- status ------------------------------------------------------------------------------------

    [Fact]
    public async Task StatusPrintsTheQueryAsNameValueLines()
    {
        var scheduleId = await SubmittedAsync(subQueries: 3);

        var result = await qs.RunAsync("status", scheduleId);

        AssertExit(0, result);
        Assert.Equal([$"schedule_id  {scheduleId}", "status       QUEUED", "progress     0/3"], result.StdoutLines);
    }

    [Fact]
    public async Task StatusOfASucceededQueryShowsItsRowsAndExpiry()
    {
        var scheduleId = await SucceededAsync("{\"a\":1}", "{\"a\":2}");

        var result = await qs.RunAsync("status", scheduleId);

        AssertExit(0, result);
        Assert.Equal("status       SUCCESS", result.StdoutLines[1]);
        Assert.Equal("total_rows   2", result.StdoutLines[3]);
        Assert.StartsWith("expires_at   20", result.StdoutLines[4]);
    }

    [Fact]
    public async Task StatusOfAFailedQueryShowsTheFailureAndStillExits0WithoutWait()
    {
        var record = await factory.PutAsync(TestData.Failed(License, "DATA_SOURCE_ERROR", "It broke, badly."));

        var result = await qs.RunAsync("status", record.ScheduleId);

        AssertExit(0, result);
        Assert.Contains("failure      DATA_SOURCE_ERROR: It broke, badly.", result.StdoutLines);
    }

    [Fact]
    public async Task StatusJsonIsOneLineOfJson()
    {
        var scheduleId = await SubmittedAsync(subQueries: 2);

        var result = await qs.RunAsync("status", scheduleId, "--json");

        AssertExit(0, result);
        var json = Parse(Assert.Single(result.StdoutLines));
        AssertJsonEqual($$"""{"schedule_id":"{{scheduleId}}","status_code":"QUEUED","progress":{"queries_ready":0,"queries_total":2},"total_rows":0}""", json);
    }

    [Fact]
    public async Task StatusWaitOfAFinishedQueryPrintsItsLineAndExitsAtOnce()
    {
        var succeeded = await SucceededAsync("{\"a\":1}");
        var failed = await factory.PutAsync(TestData.Failed(License));

        var success = await qs.RunAsync("status", succeeded, "--wait");
        var failure = await qs.RunAsync("status", failed.ScheduleId, "--wait");

        AssertExit(0, success);
        Assert.Equal("SUCCESS 1/1", success.StdoutLines[0]);
        AssertExit(1, failure);
        Assert.Equal("FAILURE 1/1", failure.StdoutLines[0]);
    }

    [Fact]
    public async Task StatusOfAnUnknownQueryIsExit3WithCodeMessageAndRequestId()
    {
        var result = await qs.RunAsync("status", "no_such_query");

        AssertExit(3, result);
        Assert.Equal("", result.Stdout);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("qs: NOT_FOUND: Query status not found.", lines[0]);
        Assert.Contains("no_such_query", lines[0]);
        Assert.Matches("^qs: HTTP 404, request_id: [A-Za-z0-9_-]{32}$", lines[1]);
    }

    // ---- stop --------------------------------------------------------------------------------------

    [Fact]
    public async Task StopStopsTheQueryAndStoppingAgainIsAConflict()
    {
        var scheduleId = await SubmittedAsync();

        var stopped = await qs.RunAsync("stop", scheduleId);
        var again = await qs.RunAsync("stop", scheduleId);

        AssertExit(0, stopped);
        Assert.Equal("status       STOPPED", stopped.StdoutLines[1]);
        Assert.Equal("STOPPED", (await factory.CreateClientWithApiKey().StatusAsync(scheduleId)).StatusCode());
        AssertExit(3, again);
        Assert.Contains("qs: CONFLICT_ERROR", again.Stderr);
    }

    [Fact]
    public async Task StatusWaitOfAStoppedQueryIsExit1()
    {
        var scheduleId = await SubmittedAsync();
        await qs.RunAsync("stop", scheduleId);

        var result = await qs.RunAsync("status", scheduleId, "--wait");

        AssertExit(1, result);
        Assert.Equal("STOPPED 0/2", result.StdoutLines[0]);
    }

    // ---- rows: jsonl -------------------------------------------------------------------------------

    [Fact]
    public async Task RowsWritesEachRowByteForByteOneALineAcrossPages()
    {
        string[] rows = [.. Enumerable.Range(0, 23).Select(i => i % 3 == 0 ? $"{{ \"n\" : {i}, \"s\":\"é\\u00e9\\\"\" }}" : $"[{i},\"x\",1.50,1e3]")];
        var scheduleId = await SucceededAsync(rows);

        var result = await qs.RunAsync("rows", scheduleId, "--page-size", "5");

        AssertExit(0, result);
        Assert.Equal(Encoding.UTF8.GetBytes(string.Concat(rows.Select(r => r + "\n"))), result.StdoutBytes);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task RowsOfAnEmptyResultWriteNothing()
    {
        var scheduleId = await SucceededAsync();

        var jsonl = await qs.RunAsync("rows", scheduleId);
        var csv = await qs.RunAsync("rows", scheduleId, "--format", "csv");

        AssertExit(0, jsonl);
        AssertExit(0, csv);
        Assert.Empty(jsonl.StdoutBytes);
        Assert.Empty(csv.StdoutBytes);
    }

    [Fact]
    public async Task AJsonLinesRowKeepsToOneLineWhenItsWhitespaceHasLineBreaks()
    {
        var scheduleId = await SucceededAsync("{\r\n  \"a\": \"x\\ny\",\n  \"b\": 2\n}", "{\"c\":3}");

        var result = await qs.RunAsync("rows", scheduleId);

        AssertExit(0, result);
        Assert.Equal("{    \"a\": \"x\\ny\",   \"b\": 2 }\n{\"c\":3}\n", result.Stdout);
    }

    [Fact]
    public async Task RowsOfAQueryThatDidNotSucceedIsExit1WithNothingWritten()
    {
        var scheduleId = await SubmittedAsync();

        var result = await qs.RunAsync("rows", scheduleId);

        AssertExit(1, result);
        Assert.Empty(result.StdoutBytes);
        Assert.Contains($"Query '{scheduleId}' is QUEUED; only a SUCCESS query has rows.", result.Stderr);
    }

    [Fact]
    public async Task RowsOfAnUnknownQueryIsExit3()
    {
        var result = await qs.RunAsync("rows", "no_such_query", "--format", "csv");

        AssertExit(3, result);
        Assert.Contains("qs: NOT_FOUND", result.Stderr);
    }

    // ---- rows: csv ---------------------------------------------------------------------------------

    [Fact]
    public async Task CsvHasTheFirstRowsKeysAsHeaderAndLaterRowsValuesByThoseKeys()
    {
        var scheduleId = await SucceededAsync(
            """{"date":"2026-11-01","campaign":"Spring, \"big\" one","clicks":12,"cost":1.50}""",
            """{"clicks":3,"date":"2026-11-02","campaign":"line\nbreak","cost":2e1}""",
            """{"date":"2026-11-03","campaign":"","clicks":null}""",
            """{"date":"2026-11-04","campaign":"Ünïcödé \u00e9","clicks":true,"cost":{"eur": [1, 2]}}""");

        var result = await qs.RunAsync("rows", scheduleId, "--format", "csv", "--page-size", "3");

        AssertExit(0, result);
        Assert.Equal(
            "date,campaign,clicks,cost\r\n" +
            "2026-11-01,\"Spring, \"\"big\"\" one\",12,1.50\r\n" +
            "2026-11-02,\"line\nbreak\",3,2e1\r\n" +
            "2026-11-03,\"\",,\r\n" +
            "2026-11-04,Ünïcödé é,true,\"{\"\"eur\"\": [1, 2]}\"\r\n",
            result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task CsvLeavesOutKeysTheHeaderDoesNotHaveAndWarnsOncePerKey()
    {
        var scheduleId = await SucceededAsync("""{"a":1}""", """{"a":2,"extra":"x"}""", """{"extra":"y","a":3}""", """{"b":4}""");

        var result = await qs.RunAsync("rows", scheduleId, "--format", "CSV");

        AssertExit(0, result);
        Assert.Equal("a\r\n1\r\n2\r\n3\r\n\r\n", result.Stdout);
        var warnings = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, warnings.Length);
        Assert.StartsWith("qs: warning: row 2 has key 'extra'", warnings[0]);
        Assert.StartsWith("qs: warning: row 4 has key 'b'", warnings[1]);
    }

    [Fact]
    public async Task CsvOfARowThatIsNotAnObjectIsAUsageError()
    {
        var scheduleId = await SucceededAsync("""{"a":1}""", "[1,2]");

        var result = await qs.RunAsync("rows", scheduleId, "--format", "csv");

        AssertExit(2, result);
        Assert.Equal("a\r\n1\r\n", result.Stdout); // what came before it is written
        Assert.Contains("row 2 is an array, not an object", result.Stderr);
        Assert.Contains("--format jsonl", result.Stderr);
    }

    // ---- rows: --out -------------------------------------------------------------------------------

    [Fact]
    public async Task RowsOutWritesTheFileAndNothingToStandardOutput()
    {
        var scheduleId = await SucceededAsync("""{"a":1,"b":"x"}""", """{"a":2,"b":"y"}""");
        var directory = Directory.CreateTempSubdirectory("qs-out-");
        var csv = Path.Combine(directory.FullName, "result.csv");
        var jsonl = Path.Combine(directory.FullName, "result.jsonl");
        File.WriteAllText(csv, "old content, replaced");

        var first = await qs.RunAsync("rows", scheduleId, "--format", "csv", "--out", csv);
        var second = await qs.RunAsync("rows", scheduleId, "-o", jsonl, "--page-size", "1");

        AssertExit(0, first);
        AssertExit(0, second);
        Assert.Empty(first.StdoutBytes);
        Assert.Equal("a,b\r\n1,x\r\n2,y\r\n", File.ReadAllText(csv));
        Assert.Equal("{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":\"y\"}\n", File.ReadAllText(jsonl));
        Assert.Equal(["result.csv", "result.jsonl"], directory.GetFiles().Select(f => f.Name).Order());
        directory.Delete(recursive: true);
    }

    [Fact]
    public async Task RowsOutLeavesTheFileAloneWhenTheRowsCannotBeWritten()
    {
        var queued = await SubmittedAsync();
        var notObjects = await SucceededAsync("""{"a":1}""", "2");
        var directory = Directory.CreateTempSubdirectory("qs-out-");
        var file = Path.Combine(directory.FullName, "result.csv");
        File.WriteAllText(file, "kept");

        var notSucceeded = await qs.RunAsync("rows", queued, "--out", file);
        var notCsv = await qs.RunAsync("rows", notObjects, "--format", "csv", "--out", file);

        AssertExit(1, notSucceeded);
        AssertExit(2, notCsv);
        Assert.Equal("kept", File.ReadAllText(file));
        Assert.Equal(["result.csv"], directory.GetFiles().Select(f => f.Name)); // no temporary file left behind
        directory.Delete(recursive: true);
    }

    [Fact]
    public async Task RowsOutIntoADirectoryThatDoesNotExistIsAUsageErrorBeforeAnyRequest()
    {
        var requests = 0;
        qs.Handler = () => new CountingHandler(() => requests++) { InnerHandler = factory.Server.CreateHandler() };

        var result = await qs.RunAsync("rows", "any", "--out", Path.Combine(Path.GetTempPath(), $"qs-{Guid.NewGuid():N}", "x.csv"));

        AssertExit(2, result);
        Assert.Contains("--out", result.Stderr);
        Assert.Equal(0, requests);
    }

    // ---- usage errors ------------------------------------------------------------------------------

    [Theory]
    [InlineData("stats", "x")]                             // unknown command
    [InlineData("status")]                                 // missing argument
    [InlineData("status", "x", "--no-such-option")]        // unknown option
    [InlineData("rows", "x", "--format", "xml")]           // bad option value
    [InlineData("rows", "x", "--page-size", "0")]
    [InlineData("rows", "x", "--page-size", "ten")]
    [InlineData("status", "x", "--url", "not a url")]
    [InlineData("status", "x", "--url", "ftp://example.com")]
    [InlineData("submit")]
    [InlineData("-")]
    public async Task ABadCommandLineIsExit2WithTheProblemOnStandardError(params string[] args)
    {
        var result = await qs.RunAsync(args);

        AssertExit(2, result);
        Assert.Equal("", result.Stdout);
        Assert.StartsWith("qs: ", result.Stderr);
    }

    [Fact]
    public async Task NoCommandPrintsTheHelpOnStandardErrorAndExits2()
    {
        var result = await qs.RunAsync();

        AssertExit(2, result);
        Assert.Equal("", result.Stdout);
        Assert.Contains("USAGE:", result.Stderr);
        Assert.Contains("submit <file>", result.Stderr);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("rows", "--help")]
    public async Task HelpIsExit0OnStandardOutput(params string[] args)
    {
        var result = await qs.RunAsync(args);

        AssertExit(0, result);
        Assert.Contains("USAGE:", result.Stdout);
    }

    [Fact]
    public async Task NoApiKeyIsAUsageError()
    {
        qs.Environment.Remove("QS_API_KEY");

        var result = await qs.RunAsync("status", "x");

        AssertExit(2, result);
        Assert.Contains("no API key: give --api-key KEY or set QS_API_KEY", result.Stderr);
    }

    // ---- credentials and URL -----------------------------------------------------------------------

    [Fact]
    public async Task TheApiKeyOptionWinsOverTheEnvironment()
    {
        var scheduleId = await SubmittedAsync();
        qs.Environment["QS_API_KEY"] = TestKeys.Other.Key; // lic_other: would answer 404

        var result = await qs.RunAsync("status", scheduleId, "--api-key", TestKeys.Primary.Key);

        AssertExit(0, result);
    }

    [Fact]
    public async Task AJwtIsAcceptedAsTheKey()
    {
        var scheduleId = await SubmittedAsync();
        qs.Environment["QS_API_KEY"] = TestJwt.Create(License, now: factory.Time.GetUtcNow());

        var result = await qs.RunAsync("status", scheduleId);

        AssertExit(0, result);
    }

    [Fact]
    public async Task AWrongKeyIsExit3Unauthorized()
    {
        var result = await qs.RunAsync("status", "x", "--api-key", "qs_wrong_key_for_sure_0000");

        AssertExit(3, result);
        Assert.Contains("qs: UNAUTHORIZED", result.Stderr);
        Assert.Contains("HTTP 401", result.Stderr);
    }

    [Fact]
    public async Task AKeyWithoutTheWriteScopeIsExit3Forbidden()
    {
        qs.Environment["QS_API_KEY"] = TestKeys.ReadOnly.Key;

        var result = await qs.RunWithInputAsync("""{"subqueries":[1]}""", "submit", "-");

        AssertExit(3, result);
        Assert.Contains("qs: FORBIDDEN", result.Stderr);
    }

    [Fact]
    public async Task TheKeyIsNeverPrinted()
    {
        const string key = "qs_never_printed_secret_4242";
        var scheduleId = await SubmittedAsync();
        var runs = new List<QsResult>
        {
            await qs.RunAsync("status", scheduleId, "--api-key", key),                 // 401
            await qs.RunAsync("status", scheduleId, $"--api-key={key}", "--wait"),      // 401
            await qs.RunAsync("rows", scheduleId, "--apikey", key),                     // a mistyped option
            await qs.RunAsync("stats", "--api-key", key),                               // an unknown command
            await qs.RunAsync("status", "--api-key", key),                              // the key taken for the argument?
        };
        qs.Environment["QS_API_KEY"] = key;
        runs.Add(await qs.RunAsync("status", scheduleId));
        runs.Add(await qs.RunAsync("status", key));                                     // a key given as the schedule ID
        runs.Add(await qs.RunWithInputAsync($$"""{"subqueries":[{"k":"{{key}}"}]""", "submit", "-")); // bad JSON that holds it

        foreach (var run in runs)
        {
            Assert.NotEqual(0, run.ExitCode);
            Assert.DoesNotContain(key, run.Stdout);
            Assert.DoesNotContain(key, run.Stderr);
        }
        Assert.DoesNotContain(factory.Logs.Events, e => e.RenderMessage().Contains(key) || e.Properties.Values.Any(v => v.ToString().Contains(key)));
    }

    [Fact]
    public async Task NoAnswerFromTheServiceIsExit3()
    {
        qs.Handler = () => new AnsweringHandler(_ => throw new HttpRequestException("Connection refused (gateway.example:443)"));

        var result = await qs.RunWithInputAsync("""{"subqueries":[1]}""", "submit", "-");

        AssertExit(3, result);
        Assert.Equal("qs: no answer from the service: Connection refused (gateway.example:443)\n", result.Stderr);
    }

    [Fact]
    public async Task AnAnswerThatIsNotTheApisIsExit3()
    {
        qs.Handler = () => new AnsweringHandler(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>hello</html>") });
        var ok = await qs.RunAsync("status", "abc");
        qs.Handler = () => new AnsweringHandler(_ => new HttpResponseMessage(HttpStatusCode.BadGateway) { Content = new StringContent("<html>bad gateway</html>") });
        var error = await qs.RunAsync("stop", "abc");

        AssertExit(3, ok);
        Assert.StartsWith("qs: the answer is not the QueryStatus API's (is --url right?)", ok.Stderr);
        AssertExit(3, error);
        Assert.Contains("qs: HTTP_502: Bad Gateway", error.Stderr);
    }

    [Fact]
    public async Task TheUrlDefaultsToLocalhost5080AndKeepsItsPath()
    {
        var seen = new List<(Uri Uri, string? Authorization)>();
        qs.Handler = () => new RecordingHandler(seen);
        qs.Environment.Remove("QS_URL");

        await qs.RunAsync("status", "abc");
        await qs.RunAsync("status", "abc", "--url", "https://gateway.example/querystatus");
        qs.Environment["QS_URL"] = "http://env.example:8080/qs/";
        await qs.RunAsync("status", "abc");

        Assert.Equal(
        [
            "http://localhost:5080/enterprise/v2/query/status?schedule_id=abc&offset_end=0",
            "https://gateway.example/querystatus/enterprise/v2/query/status?schedule_id=abc&offset_end=0",
            "http://env.example:8080/qs/enterprise/v2/query/status?schedule_id=abc&offset_end=0",
        ], seen.Select(s => s.Uri.ToString()));
        Assert.All(seen, s => Assert.Equal($"Bearer {TestKeys.Primary.Key}", s.Authorization));
    }

    private sealed class CountingHandler(Action count) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            count();
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class AnsweringHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(answer(request));
    }

    /// <summary>Records each request and answers a QUEUED status, as the service would.</summary>
    private sealed class RecordingHandler(List<(Uri, string?)> seen) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (seen)
            {
                seen.Add((request.RequestUri!, request.Headers.Authorization?.ToString()));
            }
            const string body = """
                {"meta":{"request_id":"r","schedule_id":"abc","status_code":"QUEUED","progress":{"queries_ready":0,"queries_total":1},
                 "workflow":{"tasks_scheduled":1,"tasks_running":0},"paging":{"offset_start":0,"offset_end":0,"total_rows":0,"next_offset_start":null}},"data":[]}
                """;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }
}
