using System.Net;
using System.Net.Http.Headers;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>JWT lifetimes are judged by the service's clock (the one expiry runs on), not the wall clock.</summary>
public sealed class JwtClockTests
{
    [Fact]
    public async Task TokenIsAcceptedUntilItExpiresOnTheServiceClock()
    {
        using var factory = new QueryStatusFactory();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Bearer", TestJwt.Create(license, now: factory.Time.GetUtcNow(), lifetime: TimeSpan.FromMinutes(30)));

        var fresh = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);

        // Past expiry plus the 5-minute clock skew JwtBearer allows.
        factory.Time.Advance(TimeSpan.FromMinutes(36));
        var expired = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        var description = await expired.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal("The token has expired.", description);
        Assert.Contains(expired.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
    }

    [Fact]
    public async Task TokenNotYetValidOnTheServiceClockIsRejected()
    {
        using var factory = new QueryStatusFactory();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClient();
        // Minted for an hour from now: its nbf lies beyond the allowed skew.
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Bearer", TestJwt.Create(license, now: factory.Time.GetUtcNow().AddHours(1)));

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal("The token is not valid yet.", description);
    }
}
