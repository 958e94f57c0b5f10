using System.Net;
using System.Text;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>Missing, unknown, malformed and disabled API keys, and which credential counts when several are sent.</summary>
public sealed class ApiKeyRejectionTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private const string UnknownKey = "qs_unknown_key_9999_not_configured";

    [Fact]
    public async Task MissingCredentialIsUnauthorized()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId));

        await response.AssertUnauthorizedAsync();
    }

    [Fact]
    public async Task UnknownApiKeyParameterIsUnauthorized()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: UnknownKey));

        await response.AssertUnauthorizedAsync();
        await response.AssertDoesNotRevealAsync(UnknownKey);
    }

    [Fact]
    public async Task UnknownApiKeyAsBearerIsUnauthorized()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(UnknownKey)));

        await response.AssertUnauthorizedAsync();
        await response.AssertDoesNotRevealAsync(UnknownKey);
    }

    [Fact]
    public async Task UnknownApiKeyInsideJsonIsUnauthorized()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.StatusAsJson(schedule.ScheduleId, UnknownKey));

        await response.AssertUnauthorizedAsync();
        await response.AssertDoesNotRevealAsync(UnknownKey);
    }

    [Fact]
    public async Task ApiKeysAreCaseSensitive()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        var shouted = TestKeys.Primary.Key.ToUpperInvariant();

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: shouted));

        await response.AssertUnauthorizedAsync();
    }

    public static TheoryData<string> NonBearerAuthorizationHeaders => new()
    {
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("primary:" + TestKeys.Primary.Key)),
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(TestKeys.Primary.Key)),
        "ApiKey " + TestKeys.Primary.Key,
        "Token " + TestKeys.Primary.Key,
        TestKeys.Primary.Key,
        "Bearer",
    };

    [Theory]
    [MemberData(nameof(NonBearerAuthorizationHeaders))]
    public async Task NonBearerAuthorizationHeaderIsUnauthorizedEvenWithAValidKey(string authorization)
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, authorization: authorization));

        var description = await response.AssertUnauthorizedAsync();
        Assert.Contains("Bearer", description);
        await response.AssertDoesNotRevealAsync(TestKeys.Primary.Key);
    }

    [Fact]
    public async Task UnknownBearerKeyWinsOverValidApiKeyParameter()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(
            schedule.ScheduleId, apiKey: TestKeys.Primary.Key, authorization: AuthRequests.Bearer(UnknownKey)));

        await response.AssertUnauthorizedAsync();
        await response.AssertDoesNotRevealAsync(UnknownKey);
        await response.AssertDoesNotRevealAsync(TestKeys.Primary.Key);
    }

    [Fact]
    public async Task BasicAuthorizationHeaderWinsOverValidApiKeyParameter()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(
            schedule.ScheduleId, apiKey: TestKeys.Primary.Key, authorization: "Basic dXNlcjpwYXNzd29yZA=="));

        await response.AssertUnauthorizedAsync();
    }

    [Fact]
    public async Task InvalidJwtWinsOverValidApiKeyParameter()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        var expired = TestJwt.Create(TestKeys.Primary.LicenseId, now: AuthRequests.EarlierClock(factory).AddHours(-3));

        using var response = await factory.SendAsync(AuthRequests.Status(
            schedule.ScheduleId, apiKey: TestKeys.Primary.Key, authorization: AuthRequests.Bearer(expired)));

        await response.AssertUnauthorizedAsync();
        await response.AssertDoesNotRevealAsync(expired);
    }

    [Fact]
    public async Task ValidBearerKeyWinsOverUnknownApiKeyParameter()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId, rows: 2));

        using var response = await factory.SendAsync(AuthRequests.Status(
            schedule.ScheduleId, apiKey: UnknownKey, authorization: AuthRequests.Bearer(TestKeys.Primary.Key)));

        var json = await response.ReadJsonAsync();
        Assert.Equal(2, json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task ValidJwtWinsOverUnknownApiKeyParameter()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license, rows: 2));

        using var response = await factory.SendAsync(AuthRequests.Status(
            schedule.ScheduleId, apiKey: UnknownKey, authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, license))));

        var json = await response.ReadJsonAsync();
        Assert.Equal(2, json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task ValidBearerKeyOfOneLicenseWinsOverValidApiKeyParameterOfAnother()
    {
        // The header's license is the one that counts: the Other key's schedule is not found for Primary.
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Other.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(
            schedule.ScheduleId, apiKey: TestKeys.Other.Key, authorization: AuthRequests.Bearer(TestKeys.Primary.Key)));

        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    public static TheoryData<string> MalformedKeys => new()
    {
        "qs_bad!key_0001",
        "qs bad key with spaces",
        "qs.dotted.key.0001",
        "qs_ключ_0001",
        "qs_final_newline_0001\n",
        new string('k', 256),
        "qs_" + new string('z', 300),
    };

    [Theory]
    [MemberData(nameof(MalformedKeys))]
    public async Task MalformedApiKeyParameterIsBadRequestWithoutEchoingTheKey(string key)
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: key));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.NotNull(description);
        Assert.Contains("api_key", description);
        await response.AssertDoesNotRevealAsync(key);
    }

    [Theory]
    [MemberData(nameof(MalformedKeys))]
    public async Task MalformedApiKeyInsideJsonIsBadRequestWithoutEchoingTheKey(string key)
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.StatusAsJson(schedule.ScheduleId, key));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.NotNull(description);
        Assert.Contains("api_key", description);
        await response.AssertDoesNotRevealAsync(key);
    }

    [Fact]
    public async Task EmptyApiKeyParameterIsBadRequest()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: ""));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("api_key", description);
    }

    [Fact]
    public async Task ApiKeyOfExactly255AllowedCharactersIsWellFormedButUnknown()
    {
        // The boundary of the format rule: 255 characters is allowed, so this is an unknown key (401), not a 400.
        var key = "qs_-" + new string('A', 251);
        Assert.Equal(255, key.Length);
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: key));

        await response.AssertUnauthorizedAsync();
        await response.AssertDoesNotRevealAsync(key);
    }

    [Fact]
    public async Task DisabledKeyAsApiKeyParameterIsForbidden()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Disabled.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: TestKeys.Disabled.Key));

        await AssertDisabledAsync(response);
    }

    [Fact]
    public async Task DisabledKeyAsBearerIsForbidden()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Disabled.LicenseId));

        using var response = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(TestKeys.Disabled.Key)));

        await AssertDisabledAsync(response);
    }

    [Fact]
    public async Task DisabledKeyInsideJsonIsForbidden()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Disabled.LicenseId));

        using var response = await factory.SendAsync(AuthRequests.StatusAsJson(schedule.ScheduleId, TestKeys.Disabled.Key));

        await AssertDisabledAsync(response);
    }

    [Fact]
    public async Task DisabledKeyIsForbiddenEvenForAnUnknownSchedule()
    {
        // 403 is decided by the key, before (and whatever) the schedule lookup would answer.
        using var response = await factory.SendAsync(
            AuthRequests.Status(TestData.NewScheduleId(), authorization: AuthRequests.Bearer(TestKeys.Disabled.Key)));

        await AssertDisabledAsync(response);
    }

    private static async Task AssertDisabledAsync(HttpResponseMessage response)
    {
        var description = await response.AssertForbiddenAsync();
        Assert.Contains("disabled", description, StringComparison.OrdinalIgnoreCase);
        await response.AssertDoesNotRevealAsync(TestKeys.Disabled.Key);
    }
}
