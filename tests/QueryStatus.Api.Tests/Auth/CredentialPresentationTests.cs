using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>Every way the contract lets a client present a credential reaches its license's schedule.</summary>
public sealed class CredentialPresentationTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [Fact]
    public async Task ApiKeyAsPlainQueryParameterIsAccepted()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId, rows: 2));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: TestKeys.Primary.Key));

        await AssertSucceededWithRowsAsync(response, 2);
    }

    [Fact]
    public async Task ApiKeyInsideJsonParameterIsAccepted()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId, rows: 2));

        using var response = await factory.SendAsync(AuthRequests.StatusAsJson(schedule.ScheduleId, TestKeys.Primary.Key));

        await AssertSucceededWithRowsAsync(response, 2);
    }

    [Fact]
    public async Task ApiKeyAsBearerTokenIsAccepted()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId, rows: 2));

        using var response = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(TestKeys.Primary.Key)));

        await AssertSucceededWithRowsAsync(response, 2);
    }

    [Fact]
    public async Task BearerSchemeNameIsCaseInsensitive()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId, rows: 1));

        using var response = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: "bearer " + TestKeys.Primary.Key));

        await AssertSucceededWithRowsAsync(response, 1);
    }

    [Fact]
    public async Task JwtWithLicenseClaimIsAccepted()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license, rows: 2));

        using var response = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, license))));

        await AssertSucceededWithRowsAsync(response, 2);
    }

    private static async Task AssertSucceededWithRowsAsync(HttpResponseMessage response, int rows)
    {
        var json = await response.ReadJsonAsync();
        Assert.Equal("SUCCESS", json.GetProperty("meta").GetProperty("status_code").GetString());
        Assert.Equal(rows, json.GetProperty("data").GetArrayLength());
    }
}
