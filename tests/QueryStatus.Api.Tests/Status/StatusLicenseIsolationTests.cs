using System.Net;
using System.Text.Json;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Status.StatusTestKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>A license sees only its own schedules; another license's schedule is indistinguishable from none.</summary>
public class StatusLicenseIsolationTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private sealed record NotFound(string? Code, string? Message, string? Description);

    private static async Task<NotFound> ReadNotFoundAsync(HttpResponseMessage response, string scheduleId)
    {
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = json.RootElement.GetProperty("error");
        // The description may quote the ID that was asked for; everything else must be the same.
        return new NotFound(
            error.GetProperty("code").GetString(),
            error.GetProperty("message").GetString(),
            description?.Replace(scheduleId, "<id>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OtherLicensesScheduleIsNotFoundExactlyLikeAnUnknownOne()
    {
        var owner = TestData.NewLicenseId();
        var stranger = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(owner));
        await factory.PutAsync(TestData.Success(stranger)); // the stranger has schedules too, just not this one
        var unknownId = TestData.NewScheduleId();
        using var ownerClient = factory.CreateJwtClient(owner);
        using var strangerClient = factory.CreateJwtClient(stranger);

        using var othersResponse = await strangerClient.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        using var unknownResponse = await strangerClient.GetAsync(Url(("schedule_id", unknownId)));
        var others = await ReadNotFoundAsync(othersResponse, schedule.ScheduleId);
        var unknown = await ReadNotFoundAsync(unknownResponse, unknownId);

        Assert.Equal(unknown, others);
        Assert.Equal("SUCCESS", (await ownerClient.GetOkAsync(Url(("schedule_id", schedule.ScheduleId))))
            .Meta().GetProperty("status_code").GetString());
    }

    [Fact]
    public async Task StrangerSeesNotFoundForEveryStateOfAnotherLicensesSchedule()
    {
        var owner = TestData.NewLicenseId();
        var stranger = TestData.NewLicenseId();
        await factory.PutAsync(TestData.Running(stranger));
        using var strangerClient = factory.CreateJwtClient(stranger);

        foreach (var status in Enum.GetValues<ScheduleStatus>())
        {
            var schedule = await factory.PutAsync(InState(owner, status));
            using var response = await strangerClient.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
            await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }
    }

    [Fact]
    public async Task ApiKeyOfAnotherLicenseCannotReadTheSchedule()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        await factory.PutAsync(TestData.Success(TestKeys.Other.LicenseId));
        using var primary = factory.CreateClientWithApiKey(TestKeys.Primary);
        using var other = factory.CreateClientWithApiKey(TestKeys.Other);

        using var othersResponse = await other.GetAsync(Url(("schedule_id", schedule.ScheduleId)));
        await othersResponse.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");

        var body = await primary.GetOkAsync(Url(("schedule_id", schedule.ScheduleId)));
        Assert.Equal(3, body.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task ApiKeyOfAnotherLicenseInsideJsonCannotReadTheSchedule()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        await factory.PutAsync(TestData.Success(TestKeys.Other.LicenseId));
        using var client = factory.CreateAnonymousClient();

        using var response = await client.GetAsync(JsonUrl(
            $$"""{"schedule_id":"{{schedule.ScheduleId}}","api_key":"{{TestKeys.Other.Key}}"}"""));

        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task SameScheduleIdInTwoLicensesNamesTwoSeparateSchedules()
    {
        var first = TestData.NewLicenseId();
        var second = TestData.NewLicenseId();
        var id = TestData.NewScheduleId();
        await factory.PutAsync(InState(first, ScheduleStatus.Running, scheduleId: id));
        await factory.PutAsync(TestData.Success(second, rows: 2, scheduleId: id));
        using var firstClient = factory.CreateJwtClient(first);
        using var secondClient = factory.CreateJwtClient(second);

        var firstBody = await firstClient.GetOkAsync(Url(("schedule_id", id)));
        var secondBody = await secondClient.GetOkAsync(Url(("schedule_id", id)));

        Assert.Equal("RUNNING", firstBody.Meta().GetProperty("status_code").GetString());
        Assert.Empty(firstBody.RawRows());
        Assert.Equal("SUCCESS", secondBody.Meta().GetProperty("status_code").GetString());
        Assert.Equal([DefaultRow(0), DefaultRow(1)], secondBody.RawRows());
        // The running schedule's tasks are in the first license's queue only.
        Assert.Equal(1, firstBody.Meta().GetProperty("workflow").GetProperty("tasks_running").GetInt32());
        Assert.Equal(0, secondBody.Meta().GetProperty("workflow").GetProperty("tasks_running").GetInt32());
    }
}

public sealed class StatusLicenseIsolationTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : StatusLicenseIsolationTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
