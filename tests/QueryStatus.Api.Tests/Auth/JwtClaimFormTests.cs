using System.Net;
using System.Security.Claims;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>
/// A JWT's license must be in <c>license_id</c> exactly (JWT claim types are case-sensitive). A scope claim counts in
/// any case and even when it names no scope: an issuer's "Scope" claim must never turn into the default client scopes.
/// </summary>
public sealed class JwtClaimFormTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private HttpClient ClientWith(params Claim[] claims)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestJwt.Create(null, now: factory.Time.GetUtcNow(), extraClaims: claims));
        return client;
    }

    [Fact]
    public async Task LicenseClaimMustBeNamedExactlyLicenseIdOnEveryPoll()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Running(license));
        using var client = ClientWith(new Claim("License_Id", license));

        // JWT claim types are case-sensitive (IdentityModel's own identities): "License_Id" is not the license.
        for (var i = 0; i < 2; i++)
        {
            var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
            var description = await response.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
            Assert.Contains("license_id", description);
        }
    }

    [Theory]
    [InlineData("Scope", "worker")]
    [InlineData("SCOPE", "query:write")]
    [InlineData("scope", "")]
    [InlineData("scope", "  ")]
    public async Task ScopeClaimThatGrantsNoReadIsForbiddenOnEveryPoll(string claimType, string value)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Running(license));
        using var client = ClientWith(new Claim("license_id", license), new Claim(claimType, value));

        for (var i = 0; i < 2; i++)
        {
            var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
            var description = await response.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
            Assert.Contains("query:read", description);
        }
    }

    [Fact]
    public void ScopesAreReadFromScopeClaimsOfAnyCase()
    {
        Assert.Equal(["worker"], Scopes.FromClaims([new Claim("Scope", "worker")]));
        Assert.Equal(["query:read", "worker"], Scopes.FromClaims([new Claim("scope", "query:read"), new Claim("SCOPE", "worker query:read")]));
        Assert.Empty(Scopes.FromClaims([new Claim("scope", " ")]));
        Assert.Equal(Scopes.Default, Scopes.FromClaims([new Claim("sub", "someone")]));
    }
}
