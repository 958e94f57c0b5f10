using System.Security.Claims;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>
/// The status fast lane reads validated tokens straight from the cache (<see cref="CachingJsonWebTokenHandler.TryGetValidated"/>):
/// only tokens that passed full validation, only while the same time rule holds, with the scopes already normalized.
/// </summary>
public sealed class JwtCacheLookupTests
{
    private readonly FakeTimeProvider _time = new(QueryStatusFactory.Start);

    // Lifetimes judged on the fake clock, as the service configures JwtBearer (never the wall clock).
    private TokenValidationParameters Parameters() => new()
    {
        ValidIssuer = TestJwt.Issuer,
        ValidAudience = TestJwt.Audience,
        IssuerSigningKey = new SymmetricSecurityKey(TestJwt.SigningKey),
        ClockSkew = TimeSpan.FromMinutes(5),
        LifetimeValidator = (notBefore, expires, _, p) =>
            expires is { } end && end >= _time.GetUtcNow().UtcDateTime - p.ClockSkew
            && (notBefore is not { } start || start <= _time.GetUtcNow().UtcDateTime + p.ClockSkew),
    };

    private string Token(TimeSpan lifetime) =>
        TestJwt.Create("lic_cache", now: _time.GetUtcNow(), lifetime: lifetime, extraClaims: [new Claim("scope", "query:read query:write")]);

    [Fact]
    public void TokenNeverValidatedIsNotFound()
    {
        var handler = new CachingJsonWebTokenHandler(_time) { MapInboundClaims = false };

        Assert.Null(handler.TryGetValidated(Token(TimeSpan.FromHours(1)), Parameters()));
    }

    [Fact]
    public async Task ValidatedTokenIsFoundWithOneClaimPerScopeAndTheSamePrincipalEachTime()
    {
        var handler = new CachingJsonWebTokenHandler(_time) { MapInboundClaims = false };
        var token = Token(TimeSpan.FromHours(1));
        Assert.True((await handler.ValidateTokenAsync(token, Parameters())).IsValid);

        var first = handler.TryGetValidated(token, Parameters());
        var second = handler.TryGetValidated(token, Parameters());

        Assert.NotNull(first);
        Assert.Same(first, second);
        Assert.Equal(["query:read", "query:write"], first.FindAll("scope").Select(c => c.Value).Order());
        Assert.Equal("lic_cache", first.FindFirstValue("license_id"));
        Assert.True(ScopeRequirement.Permits(first, Scopes.QueryRead));
    }

    [Fact]
    public async Task TokenThatFailedValidationIsNotFound()
    {
        var handler = new CachingJsonWebTokenHandler(_time) { MapInboundClaims = false };
        var token = Token(TimeSpan.FromHours(1));
        var wrongAudience = Parameters();
        wrongAudience.ValidAudience = "someone-else";

        Assert.False((await handler.ValidateTokenAsync(token, wrongAudience)).IsValid);

        Assert.Null(handler.TryGetValidated(token, Parameters()));
    }

    [Fact]
    public async Task CachedTokenIsNotFoundOnceItExpiresBeyondTheClockSkew()
    {
        var handler = new CachingJsonWebTokenHandler(_time) { MapInboundClaims = false };
        var token = Token(TimeSpan.FromMinutes(1));
        var parameters = Parameters();
        parameters.ClockSkew = TimeSpan.FromMinutes(1);
        Assert.True((await handler.ValidateTokenAsync(token, parameters)).IsValid);

        _time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(59));
        Assert.NotNull(handler.TryGetValidated(token, parameters));

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(handler.TryGetValidated(token, parameters));
    }

    [Fact]
    public async Task CachedEntryIsNotUsedPastItsMaximumAgeEvenForALongLivedToken()
    {
        var handler = new CachingJsonWebTokenHandler(_time) { MapInboundClaims = false };
        var token = Token(TimeSpan.FromHours(1));
        Assert.True((await handler.ValidateTokenAsync(token, Parameters())).IsValid);

        _time.Advance(CachingJsonWebTokenHandler.MaxAge);

        Assert.Null(handler.TryGetValidated(token, Parameters()));
    }
}
