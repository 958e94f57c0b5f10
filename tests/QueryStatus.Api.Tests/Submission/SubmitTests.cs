using System.Net;
using System.Text.RegularExpressions;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// POST /enterprise/v2/query/submit as a client sees it. These tests never lease and never move time, so
/// they share one factory; each uses its own license and schedule IDs.
/// </summary>
public partial class SubmitTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,50}\z")]
    private static partial Regex ScheduleIdRule();

    [Fact]
    public async Task SubmittedQueryIsAcceptedAsQueuedWithEverySubQueryCounted()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        using var response = await client.PostSubmitAsync(SubmitBody(scheduleId, SubQueries(3)));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = Parse(text);
        Assert.Equal(scheduleId, body.ScheduleId());
        Assert.Equal("QUEUED", body.StatusCode());
        Assert.Equal((0, 3), body.Progress());
        Assert.Equal((3, 0), body.Workflow());
        Assert.Equal(0, body.TotalRows());
        Assert.Null(body.NextOffsetStart());
        Assert.Empty(body.Data());
        Assert.Null(body.ExpiresAt());
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), body.Meta().GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task SubmitAnswersWithTheBodyTheStatusEndpointGivesForTheNewRun()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        var submitted = await client.SubmitAsync(scheduleId, 2);
        var status = await client.StatusAsync(scheduleId);

        Assert.Equal(Shape(status), Shape(submitted));
        Assert.Equal(status.StatusCode(), submitted.StatusCode());
        Assert.Equal(status.Progress(), submitted.Progress());
        Assert.Equal(status.Workflow(), submitted.Workflow());
        AssertJsonEqual(status.Meta().GetProperty("paging"), submitted.Meta().GetProperty("paging"));
    }

    [Fact]
    public async Task LocationHeaderPointsAtTheStatusOfTheNewRunAndWorksWhenFollowed()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        using var response = await client.PostSubmitAsync(SubmitBody(scheduleId, SubQueries(2)));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location;
        Assert.NotNull(location);
        Assert.Equal($"{StatusPath}?schedule_id={scheduleId}", location.OriginalString);

        using var followed = await client.GetAsync(location);
        var status = await followed.ReadJsonAsync();
        Assert.Equal(scheduleId, status.ScheduleId());
        Assert.Equal("QUEUED", status.StatusCode());
        Assert.Equal((0, 2), status.Progress());
    }

    [Fact]
    public async Task ScheduleIdLeftOutIsGeneratedValidAndDifferentEachTime()
    {
        var license = TestData.NewLicenseId();
        using var client = factory.CreateJwtClient(license);

        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostSubmitAsync("{\"subqueries\":[{\"q\":1}]}");
            var body = await response.ReadJsonAsync();
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var id = body.ScheduleId();
            Assert.Matches(ScheduleIdRule(), id);
            Assert.Equal($"{StatusPath}?schedule_id={id}", response.Headers.Location?.OriginalString);
            ids.Add(id);
        }

        Assert.Equal(3, ids.Distinct().Count());
        foreach (var id in ids)
        {
            Assert.Equal("QUEUED", (await client.StatusAsync(id)).StatusCode());
        }
    }

    [Fact]
    public async Task ClientChosenScheduleIdIsTheRunsId()
    {
        var license = TestData.NewLicenseId();
        using var client = factory.CreateJwtClient(license);

        var submitted = await client.SubmitAsync("nightly-report_2026", 1);

        Assert.Equal("nightly-report_2026", submitted.ScheduleId());
        Assert.Equal("QUEUED", (await client.StatusAsync("nightly-report_2026")).StatusCode());
    }

    [Fact]
    public async Task NullScheduleIdIsTreatedAsLeftOut()
    {
        var license = TestData.NewLicenseId();
        using var client = factory.CreateJwtClient(license);

        using var response = await client.PostSubmitAsync("{\"schedule_id\":null,\"subqueries\":[1]}");
        var body = await response.ReadJsonAsync();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Matches(ScheduleIdRule(), body.ScheduleId());
    }

    [Fact]
    public async Task NotBeforeInThePastQueuesTheRunAtOnce()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        var submitted = await client.SubmitAsync(scheduleId, 2, notBefore: Iso(factory.Time.GetUtcNow().AddMinutes(-5)));

        Assert.Equal("QUEUED", submitted.StatusCode());
        Assert.Equal((2, 0), submitted.Workflow());
        Assert.Equal("QUEUED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task NotBeforeInTheFutureKeepsTheRunScheduledAndOutOfTheQueue()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        var submitted = await client.SubmitAsync(scheduleId, 4, notBefore: Iso(factory.Time.GetUtcNow().AddHours(1)));

        Assert.Equal("SCHEDULED", submitted.StatusCode());
        Assert.Equal((0, 4), submitted.Progress());
        Assert.Equal((0, 0), submitted.Workflow());
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SCHEDULED", status.StatusCode());
        Assert.Equal((0, 0), status.Workflow());
    }

    [Fact]
    public async Task TenThousandSubQueriesAreAccepted()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        var submitted = await client.SubmitAsync(scheduleId, Enumerable.Range(0, 10_000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal((0, 10_000), submitted.Progress());
        Assert.Equal((10_000, 0), submitted.Workflow());
    }

    [Fact]
    public async Task ScheduleIdOfFiftyCharactersIsAccepted()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = new string('a', 45) + "_-Z09";
        using var client = factory.CreateJwtClient(license);

        var submitted = await client.SubmitAsync(scheduleId, 1);

        Assert.Equal(scheduleId, submitted.ScheduleId());
    }

    [Fact]
    public async Task ApiKeyWithoutScopesMaySubmitUnderItsLicense()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateClientWithApiKey(TestKeys.Primary);

        var submitted = await client.SubmitAsync(scheduleId, 1);

        Assert.Equal("QUEUED", submitted.StatusCode());
        // The run belongs to the key's license: another license does not see it.
        using var other = factory.CreateClientWithApiKey(TestKeys.Other);
        using var response = await other.GetStatusAsync(scheduleId);
        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }
}

public sealed class SubmitTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : SubmitTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
