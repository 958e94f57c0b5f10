using System.Net;
using System.Text.Json;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>A license sees only its own schedules: another license's schedule is 404, exactly like an unknown one.</summary>
public sealed class LicenseIsolationTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [Fact]
    public async Task ApiKeyOfAnotherLicenseGetsNotFoundLikeForAnUnknownSchedule()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        var unknownId = TestData.NewScheduleId();
        var other = AuthRequests.Bearer(TestKeys.Other.Key);

        using var foreign = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, authorization: other));
        using var unknown = await factory.SendAsync(AuthRequests.Status(unknownId, authorization: other));

        await AssertIndistinguishableAsync(foreign, schedule.ScheduleId, unknown, unknownId);
        await AssertOwnerSeesItAsync(AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(TestKeys.Primary.Key)));
    }

    [Fact]
    public async Task ApiKeyParameterOfAnotherLicenseGetsNotFoundLikeForAnUnknownSchedule()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        var unknownId = TestData.NewScheduleId();

        using var foreign = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: TestKeys.Other.Key));
        using var unknown = await factory.SendAsync(AuthRequests.Status(unknownId, apiKey: TestKeys.Other.Key));

        await AssertIndistinguishableAsync(foreign, schedule.ScheduleId, unknown, unknownId);
        await AssertOwnerSeesItAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: TestKeys.Primary.Key));
    }

    [Fact]
    public async Task JwtOfAnotherLicenseGetsNotFoundLikeForAnUnknownSchedule()
    {
        var owner = TestData.NewLicenseId();
        var stranger = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(owner));
        var unknownId = TestData.NewScheduleId();
        var strangerToken = AuthRequests.Bearer(AuthRequests.Jwt(factory, stranger));

        using var foreign = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, authorization: strangerToken));
        using var unknown = await factory.SendAsync(AuthRequests.Status(unknownId, authorization: strangerToken));

        await AssertIndistinguishableAsync(foreign, schedule.ScheduleId, unknown, unknownId);
        await AssertOwnerSeesItAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, owner))));
    }

    [Fact]
    public async Task JwtSeesSchedulesOfItsLicenseButNotThoseOfAnApiKeyLicense()
    {
        // A JWT claiming a license that an API key also serves is that license; one claiming any other is not.
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var sameLicense = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId,
            authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, TestKeys.Primary.LicenseId))));
        using var otherLicense = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId,
            authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, TestData.NewLicenseId()))));

        Assert.Equal(HttpStatusCode.OK, sameLicense.StatusCode);
        await otherLicense.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task ScheduleIdsAreScopedPerLicense()
    {
        // The same schedule id under two licenses: each sees its own rows.
        var a = TestData.NewLicenseId();
        var b = TestData.NewLicenseId();
        var id = TestData.NewScheduleId();
        await factory.PutAsync(TestData.Success(a, rows: 1, scheduleId: id));
        await factory.PutAsync(TestData.Success(b, rows: 3, scheduleId: id));

        using var asA = await factory.SendAsync(AuthRequests.Status(id, authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, a))));
        using var asB = await factory.SendAsync(AuthRequests.Status(id, authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, b))));

        Assert.Equal(1, (await asA.ReadJsonAsync()).GetProperty("data").GetArrayLength());
        Assert.Equal(3, (await asB.ReadJsonAsync()).GetProperty("data").GetArrayLength());
    }

    /// <summary>Both are 404 NOT_FOUND envelopes with the same message, and descriptions that differ only by the id asked for.</summary>
    private static async Task AssertIndistinguishableAsync(
        HttpResponseMessage foreign, string foreignId, HttpResponseMessage unknown, string unknownId)
    {
        var foreignDescription = await foreign.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        var unknownDescription = await unknown.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");

        var (foreignCode, foreignMessage) = await CodeAndMessageAsync(foreign);
        var (unknownCode, unknownMessage) = await CodeAndMessageAsync(unknown);
        Assert.Equal(unknownCode, foreignCode);
        Assert.Equal(unknownMessage, foreignMessage);
        Assert.Equal(unknownDescription?.Replace(unknownId, "{id}"), foreignDescription?.Replace(foreignId, "{id}"));
        Assert.Equal(unknown.Content.Headers.ContentType, foreign.Content.Headers.ContentType);
    }

    private async Task AssertOwnerSeesItAsync(HttpRequestMessage request)
    {
        using var response = await factory.SendAsync(request);
        var json = await response.ReadJsonAsync();
        Assert.Equal("SUCCESS", json.GetProperty("meta").GetProperty("status_code").GetString());
    }

    private static async Task<(string? Code, string? Message)> CodeAndMessageAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = json.RootElement.GetProperty("error");
        return (error.GetProperty("code").GetString(), error.GetProperty("message").GetString());
    }
}
