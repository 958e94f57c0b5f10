using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using Serilog.Events;

namespace QueryStatus.Api.Tests.Store;

/// <summary>
/// A seed file that contradicts itself stops start-up with a message naming the setting, the file, the
/// entry and the problem. Every bad entry comes second, after <see cref="ValidEntry"/>, so the message
/// must point at <c>schedules[1]</c>.
/// </summary>
public sealed class SeedFileStartupFailureTests
{
    private const string ValidEntry =
        """{"schedule_id": "ok_first", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "data": [{"a": 1}]}""";

    /// <summary>
    /// Starts a host on <paramref name="seed"/>, expects creating a client to throw, and returns the message
    /// of the <see cref="SeedFileException"/> that stopped it. Program.RunOrReportAsync turns that exception
    /// into a console report and exit code 1, so under the test host the client call fails with whatever the
    /// factory trips over next; the cause is what the host logged as its start-up fault.
    /// </summary>
    private static string StartupFailure(TempSeedFile seed)
    {
        using var factory = seed.CreateFactory();

        var error = Record.Exception(() => factory.CreateClientWithApiKey().Dispose());

        Assert.NotNull(error);
        var reported = factory.Logs.Events
            .Where(e => e.Level >= LogEventLevel.Error && e.Exception is not null)
            .SelectMany(e => StoreTestHelpers.Chain(e.Exception!));
        var causes = StoreTestHelpers.Chain(error).Concat(reported).OfType<SeedFileException>().ToList();
        Assert.True(causes.Count > 0,
            $"No SeedFileException was thrown or logged. Thrown: {StoreTestHelpers.MessageChain(error)}{Environment.NewLine}" +
            $"Logged: {string.Join(Environment.NewLine, factory.Logs.Lines())}");
        var message = causes[0].Message;
        Assert.Contains("Store:SeedFile", message, StringComparison.Ordinal);
        Assert.Contains(seed.Path, message, StringComparison.Ordinal);
        return message;
    }

    private static string SecondEntryFailure(string badEntry)
    {
        using var seed = TempSeedFile.WithSchedules(ValidEntry, badEntry);
        var message = StartupFailure(seed);
        Assert.Contains("schedules[1]", message, StringComparison.Ordinal);
        Assert.DoesNotContain("schedules[0]", message, StringComparison.Ordinal);
        return message;
    }

    [Fact]
    public async Task ValidSeedFileStartsAndServesItsSchedule()
    {
        // The control for every test below: the first entry on its own is fine.
        using var seed = TempSeedFile.WithSchedules(ValidEntry);
        using var factory = seed.CreateFactory();
        using var client = factory.CreateClientWithApiKey();

        var body = await client.StatusAsync("ok_first");

        Assert.Equal(["""{"a": 1}"""], body.RawRows());
    }

    [Fact]
    public async Task SeedFileWithNoSchedulesStartsEmpty()
    {
        using var seed = TempSeedFile.Write("""{"schedules": []}""");
        using var factory = seed.CreateFactory();
        using var client = factory.CreateClientWithApiKey();

        using var response = await client.GetStatusAsync("ok_first");

        await response.AssertEnvelopeAsync(System.Net.HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public void SuccessWithRunningTaskStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_success", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE", "RUNNING"]}""");

        Assert.Contains("bad_success", message, StringComparison.Ordinal);
        Assert.Contains("SUCCESS needs every sub-query DONE", message, StringComparison.Ordinal);
        Assert.Contains("1 RUNNING", message, StringComparison.Ordinal);
    }

    [Fact]
    public void QueuedWithDoneTaskStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_queued", "license_id": "lic_test", "status_code": "QUEUED", "subqueries": ["QUEUED", "DONE"]}""");

        Assert.Contains("QUEUED means no sub-query has started", message, StringComparison.Ordinal);
        Assert.Contains("1 DONE", message, StringComparison.Ordinal);
    }

    [Fact]
    public void FailureWithoutFailureDetailsStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_failure", "license_id": "lic_test", "status_code": "FAILURE", "subqueries": ["DONE"], "failure": null}""");

        Assert.Contains("FAILURE needs failure {code, message}", message, StringComparison.Ordinal);
    }

    [Fact]
    public void FailureDetailsOnASuccessStopStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_success_failure", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "failure": {"code": "X", "message": "Y"}}""");

        Assert.Contains("failure is only allowed with FAILURE, not SUCCESS", message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataOnARunningScheduleStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_running_data", "license_id": "lic_test", "status_code": "RUNNING", "subqueries": ["RUNNING"], "data": [{"early": true}]}""");

        Assert.Contains("data is only served in SUCCESS; a RUNNING schedule cannot have rows", message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataOnAFailureStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_failure_data", "license_id": "lic_test", "status_code": "FAILURE", "subqueries": ["DONE"], "failure": {"code": "X", "message": "Y"}, "data": [1]}""");

        Assert.Contains("a FAILURE schedule cannot have rows", message, StringComparison.Ordinal);
    }

    [Fact]
    public void FinishedAtOnARunningScheduleStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_running_finished", "license_id": "lic_test", "status_code": "RUNNING", "subqueries": ["RUNNING"], "finished_at": "2026-11-29T10:00:00Z"}""");

        Assert.Contains("finished_at is only allowed on a finished schedule, not RUNNING", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("yesterday")]
    // Dates that DateTimeOffset.TryParse reads but ISO 8601 does not: a typo in one must not pass unnoticed.
    [InlineData("11/29/2026 10:00")]
    [InlineData("Nov 29 2026")]
    [InlineData("2026-11-29 10:00:00Z")]
    [InlineData("2026-13-01T10:00:00Z")]
    public void UnreadableFinishedAtStopsStartup(string finishedAt)
    {
        var message = SecondEntryFailure(
            $$"""{"schedule_id": "bad_finished_at", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "finished_at": "{{finishedAt}}"}""");

        Assert.Contains("finished_at must be an ISO 8601 time", message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownStatusCodeStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_status", "license_id": "lic_test", "status_code": "DONE", "subqueries": ["DONE"]}""");

        Assert.Contains("status_code 'DONE' is not one of SCHEDULED, QUEUED, RUNNING, SUCCESS, FAILURE, STOPPED", message, StringComparison.Ordinal);
    }

    [Fact]
    public void LowerCaseStatusCodeStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_status_case", "license_id": "lic_test", "status_code": "success", "subqueries": ["DONE"]}""");

        Assert.Contains("status_code 'success' is not one of", message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownSubQueryStateStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad_task", "license_id": "lic_test", "status_code": "RUNNING", "subqueries": ["RUNNING", "WAITING"]}""");

        Assert.Contains("subqueries entries must be QUEUED, RUNNING or DONE", message, StringComparison.Ordinal);
        Assert.Contains("\"WAITING\"", message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadScheduleIdStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "bad id!", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"]}""");

        Assert.Contains("'bad id!'", message, StringComparison.Ordinal);
        Assert.Contains("schedule_id must be", message, StringComparison.Ordinal);
    }

    [Fact]
    public void TooLongScheduleIdStopsStartup()
    {
        var id = new string('a', 51);
        var message = SecondEntryFailure(
            $$"""{"schedule_id": "{{id}}", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"]}""");

        Assert.Contains("schedule_id must be", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingScheduleIdStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"]}""");

        Assert.Contains("schedule_id is required", message, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateScheduleIdForOneLicenseStopsStartup()
    {
        var message = SecondEntryFailure(
            """{"schedule_id": "ok_first", "license_id": "lic_test", "status_code": "RUNNING", "subqueries": ["RUNNING"]}""");

        Assert.Contains("license 'lic_test' already has a schedule with this ID", message, StringComparison.Ordinal);
        Assert.Contains("'ok_first'", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SameScheduleIdForAnotherLicenseIsNoDuplicate()
    {
        using var seed = TempSeedFile.WithSchedules(
            ValidEntry,
            """{"schedule_id": "ok_first", "license_id": "lic_other", "status_code": "RUNNING", "subqueries": ["RUNNING"]}""");
        using var factory = seed.CreateFactory();
        using var client = factory.CreateClientWithApiKey(TestKeys.Other);

        var body = await client.StatusAsync("ok_first");

        Assert.Equal("RUNNING", body.StatusCode());
    }

    [Fact]
    public void EntryThatIsNotAnObjectStopsStartup()
    {
        var message = SecondEntryFailure("\"just a string\"");

        Assert.Contains("each schedule must be a JSON object", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"\\ud800\"")]
    [InlineData("{\"k\": \"a \\udc00 b\"}")]
    public void RowThatIsNotReadableTextStopsStartup(string row)
    {
        var message = SecondEntryFailure(
            $$"""{"schedule_id": "ok_second", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "data": [{"a": 1}, {{row}}]}""");

        Assert.Contains("data[1]", message, StringComparison.Ordinal);
        Assert.Contains("not valid Unicode", message, StringComparison.Ordinal);
    }

    [Fact]
    public void RowDeeperThanAWorkerMaySendStopsStartup()
    {
        // 70 nested arrays: a worker's body (its object, its rows array, then the row) stops at 64 levels in all.
        var row = new string('[', 70) + new string(']', 70);
        using var seed = TempSeedFile.WithSchedules(ValidEntry,
            $$"""{"schedule_id": "ok_second", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE"], "data": [{{row}}]}""");

        var message = StartupFailure(seed);

        Assert.Contains("is not valid JSON", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedJsonFileStopsStartup()
    {
        using var seed = TempSeedFile.Write("{ \"schedules\": [\n  " + ValidEntry + ",\n  {\"schedule_id\" \"missing colon\"}\n] }");

        var message = StartupFailure(seed);

        Assert.Contains("is not valid JSON", message, StringComparison.Ordinal);
        Assert.Contains("line 3", message, StringComparison.Ordinal);
    }

    [Fact]
    public void FileWithoutSchedulesArrayStopsStartup()
    {
        using var seed = TempSeedFile.Write("""{"schedule": []}""");

        var message = StartupFailure(seed);

        Assert.Contains("must be an object with a \"schedules\" array", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileStopsStartup()
    {
        using var seed = TempSeedFile.Missing();
        Assert.False(File.Exists(seed.Path));

        var message = StartupFailure(seed);

        Assert.Contains("cannot be read", message, StringComparison.Ordinal);
    }
}
