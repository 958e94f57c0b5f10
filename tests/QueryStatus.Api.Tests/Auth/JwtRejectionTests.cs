using System.Net;
using System.Text;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>
/// A JWT is refused with 401 and a challenge when any of signature, issuer, audience or lifetime is
/// wrong; a valid JWT not bound to a license is 403. Each bad token differs from an accepted one in
/// one respect only, and the description is checked to name that respect.
/// </summary>
public sealed class JwtRejectionTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private static readonly byte[] ForeignSigningKey = Encoding.UTF8.GetBytes("some-other-issuers-signing-key-fedcba9876543210");

    [Fact]
    public async Task JwtSignedWithAnotherKeyIsUnauthorized()
    {
        var token = AuthRequests.Jwt(factory, TestData.NewLicenseId(), signingKey: ForeignSigningKey);

        var description = await AssertRejectedAsync(token);

        Assert.Contains("signature", description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task JwtFromAnotherIssuerIsUnauthorized()
    {
        var token = AuthRequests.Jwt(factory, TestData.NewLicenseId(), issuer: "https://someone-else.example");

        var description = await AssertRejectedAsync(token);

        Assert.Contains("issuer", description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task JwtForAnotherAudienceIsUnauthorized()
    {
        var token = AuthRequests.Jwt(factory, TestData.NewLicenseId(), audience: "some-other-api");

        var description = await AssertRejectedAsync(token);

        Assert.Contains("audience", description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ExpiredJwtIsUnauthorized()
    {
        // Issued three hours and expired two hours before both the real and the fake clock: far beyond
        // JwtBearer's five minutes of clock skew whichever clock it reads.
        var token = TestJwt.Create(TestData.NewLicenseId(), now: AuthRequests.EarlierClock(factory).AddHours(-3),
            lifetime: TimeSpan.FromHours(1));

        var description = await AssertRejectedAsync(token);

        Assert.Contains("expired", description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UnsignedJwtIsUnauthorized()
    {
        var token = AuthRequests.UnsignedJwt(factory, TestData.NewLicenseId());

        var description = await AssertRejectedAsync(token);

        Assert.Contains("signature", description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UnsignedJwtFromTestJwtIsUnauthorized()
    {
        // TestJwt's own alg:none token; whatever else is wrong with it, it must never be let in.
        var token = TestJwt.CreateUnsigned(TestData.NewLicenseId(), now: factory.Time.GetUtcNow());

        await AssertRejectedAsync(token);
    }

    [Theory]
    [InlineData("a.b.c")]
    [InlineData("not.a.jwt")]
    [InlineData("eyJhbGciOiJIUzI1NiJ9.e30")]
    public async Task GarbageWithDotsIsUnauthorized(string token)
    {
        var description = await AssertRejectedAsync(token);

        Assert.DoesNotContain("expired", description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task JwtWithoutLicenseClaimIsForbidden()
    {
        var token = AuthRequests.Jwt(factory, licenseId: null);

        using var response = await factory.SendAsync(
            AuthRequests.Status(TestData.NewScheduleId(), authorization: AuthRequests.Bearer(token)));

        var description = await response.AssertForbiddenAsync();
        Assert.Contains("license_id", description);
        await response.AssertDoesNotRevealAsync(token);
    }

    [Fact]
    public async Task JwtFromTheSameHelperWithNothingChangedIsAccepted()
    {
        // The control for the tests above: the same helper with nothing changed passes.
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));

        using var response = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(AuthRequests.Jwt(factory, license))));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Sends <paramref name="token"/> as a bearer token and asserts the 401 envelope and
    /// challenge, with the token nowhere in the response; returns the description.</summary>
    private async Task<string> AssertRejectedAsync(string token)
    {
        using var response = await factory.SendAsync(
            AuthRequests.Status(TestData.NewScheduleId(), authorization: AuthRequests.Bearer(token)));

        var description = await response.AssertUnauthorizedAsync();
        await response.AssertDoesNotRevealAsync(token);
        Assert.NotNull(description);
        return description;
    }
}
