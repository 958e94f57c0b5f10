using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>
/// Validated JWTs are cached by their text; the cache must never accept what full validation would refuse:
/// an expired token, a token with another signature, a token after the keys changed (beyond the entry's age),
/// and every hit must carry the token's own scopes.
/// </summary>
public sealed class JwtCacheTests
{
    [Fact]
    public async Task CachedTokenIsRefusedOnceItExpires()
    {
        using var factory = new QueryStatusFactory();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClient();
        // Expired two minutes ago: still accepted for three more minutes thanks to the 5-minute clock skew, so it
        // expires while its cache entry (trusted for CachingJsonWebTokenHandler.MaxAge) is still young.
        var now = factory.Time.GetUtcNow();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Bearer", TestJwt.Create(license, now: now.AddMinutes(-4), lifetime: TimeSpan.FromMinutes(2)));

        // Validated once, then answered from the cache.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId))).StatusCode);
            factory.Time.Advance(TimeSpan.FromSeconds(50));
        }

        factory.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(factory.Time.GetUtcNow() - now < CachingJsonWebTokenHandler.MaxAge);
        var expired = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        Assert.Equal("The token has expired.", await expired.AssertUnauthorizedAsync());
    }

    [Fact]
    public async Task SameClaimsWithAnotherSignatureAreNotServedFromTheCache()
    {
        using var factory = new QueryStatusFactory();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        var valid = TestJwt.Create(license, now: factory.Time.GetUtcNow());
        var forged = TestJwt.Create(license, now: factory.Time.GetUtcNow(),
            signingKey: "another-signing-key-of-at-least-32-bytes-0123456789"u8.ToArray());
        Assert.Equal(valid[..valid.LastIndexOf('.')], forged[..forged.LastIndexOf('.')]);

        var ok = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(valid)));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        var refused = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(forged)));
        Assert.Equal("The token's signature is not valid.", await refused.AssertUnauthorizedAsync());
    }

    [Fact]
    public async Task EveryCachedHitCarriesTheTokensOwnScopes()
    {
        using var factory = new QueryStatusFactory();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        var now = factory.Time.GetUtcNow();
        var reader = TestJwt.Create(license, now, extraClaims: [new Claim("scope", "query:read query:write")]);
        var worker = TestJwt.Create(license, now, extraClaims: [new Claim("scope", "worker")]);

        for (var i = 0; i < 3; i++)
        {
            var read = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(reader)));
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);

            var refused = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(worker)));
            Assert.Equal("This credential lacks the 'query:read' scope.", await refused.AssertForbiddenAsync());
        }
    }

    [Fact]
    public async Task AnEntryIsTrustedForAFewMinutesOnlyThenTheTokenIsValidatedAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var handler = new CachingJsonWebTokenHandler(time);
        var token = TestJwt.Create("lic_a", time.GetUtcNow(), lifetime: TimeSpan.FromHours(2));

        Assert.True((await handler.ValidateTokenAsync(token, Parameters(time, TestJwt.SigningKey))).IsValid);

        // The keys change (an identity provider rotated them): within the entry's age the cache still answers ...
        var rotated = Parameters(time, "a-rotated-signing-key-of-at-least-32-bytes-01234"u8.ToArray());
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True((await handler.ValidateTokenAsync(token, rotated)).IsValid);

        // ... after it, the token is validated again, against the keys in force.
        time.Advance(CachingJsonWebTokenHandler.MaxAge);
        var revalidated = await handler.ValidateTokenAsync(token, rotated);
        Assert.False(revalidated.IsValid);
        Assert.Equal(0, handler.Count);
    }

    [Fact]
    public async Task FailuresAreNotCachedAndTheCacheStaysWithinItsCapacity()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var handler = new CachingJsonWebTokenHandler(time);
        var parameters = Parameters(time, TestJwt.SigningKey);

        var wrongKey = TestJwt.Create("lic_a", time.GetUtcNow(), signingKey: "another-signing-key-of-at-least-32-bytes-0123456789"u8.ToArray());
        Assert.False((await handler.ValidateTokenAsync(wrongKey, parameters)).IsValid);
        Assert.Equal(0, handler.Count);

        for (var i = 0; i < CachingJsonWebTokenHandler.Capacity + 10; i++)
        {
            var token = TestJwt.Create($"lic_{i}", time.GetUtcNow());
            Assert.True((await handler.ValidateTokenAsync(token, parameters)).IsValid);
            Assert.InRange(handler.Count, 1, CachingJsonWebTokenHandler.Capacity);
        }
    }

    private static TokenValidationParameters Parameters(TimeProvider time, byte[] key) => new()
    {
        ValidIssuer = TestJwt.Issuer,
        ValidAudience = TestJwt.Audience,
        IssuerSigningKey = new SymmetricSecurityKey(key),
        LifetimeValidator = (notBefore, expires, _, p) =>
        {
            var now = time.GetUtcNow().UtcDateTime;
            return (notBefore is null || notBefore <= now + p.ClockSkew) && expires is not null && expires >= now - p.ClockSkew;
        },
    };
}
