using System.Security.Claims;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace QueryStatus.Api.Auth;

/// <summary>
/// JwtBearer's token handler with a cache of tokens that passed full validation, keyed by the whole token
/// text (signature included). Clients poll with the same token every second or two, and validating it
/// (parse, HMAC/RSA signature, issuer, audience, lifetime) cost more than the rest of a status request.
/// </summary>
/// <remarks>
/// Safe because a token's header, claims and signature are immutable: the same text validates the same way,
/// except for time, which is checked again on every hit by the configured lifetime rule (the parameters'
/// <see cref="TokenValidationParameters.LifetimeValidator"/>, on the service's clock), so an expired token is refused
/// exactly as before. What can change is the configuration (signing keys rotated by an identity provider), so an entry
/// is used for at most <see cref="MaxAge"/> after it was validated. Failures are never cached. The cache is a
/// <see cref="MemoryCache"/> of at most <see cref="Capacity"/> tokens. Identities leave with their scope claims
/// rewritten (<see cref="Scopes.Normalize"/>), and each hit hands out a copy, so that nothing done to one request's
/// identity reaches another's.
/// </remarks>
public sealed class CachingJsonWebTokenHandler(TimeProvider time) : JsonWebTokenHandler
{
    public const int Capacity = 10_000;
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly MemoryCache _entries = new(new MemoryCacheOptions { SizeLimit = Capacity });

    /// <summary>Tokens held now (for tests).</summary>
    internal int Count => _entries.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        if (token is null || validationParameters is null)
        {
            return await base.ValidateTokenAsync(token, validationParameters);
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (_entries.TryGetValue(token, out Entry? cached) && cached is not null)
        {
            if (now < cached.UsableUntil && IsWithinLifetime(cached.Token, validationParameters))
            {
                return cached.ToResult();
            }
            _entries.Remove(token);
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is JsonWebToken jwt && result.ClaimsIdentity is { } identity)
        {
            // Every JWT identity comes from here, so its scopes are rewritten here, once per token, not per request.
            Scopes.Normalize(identity);
            // The memory cache's own expiry (on the system clock) only frees memory; MaxAge above decides.
            _entries.Set(token, new Entry(jwt, result.Issuer, result.TokenType, identity.Clone(), now + MaxAge),
                new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = MaxAge });
        }
        return result;
    }

    /// <summary>The lifetime rule full validation applies, applied again now.</summary>
    private static bool IsWithinLifetime(JsonWebToken token, TokenValidationParameters parameters)
    {
        try
        {
            Validators.ValidateLifetime(
                token.ValidFrom == DateTime.MinValue ? null : token.ValidFrom,
                token.ValidTo == DateTime.MinValue ? null : token.ValidTo,
                token,
                parameters);
            return true;
        }
        catch (SecurityTokenException)
        {
            return false;
        }
    }

    private sealed record Entry(JsonWebToken Token, string? Issuer, string? TokenType, ClaimsIdentity Identity, DateTime UsableUntil)
    {
        public TokenValidationResult ToResult() => new()
        {
            IsValid = true,
            SecurityToken = Token,
            Issuer = Issuer,
            TokenType = TokenType,
            ClaimsIdentity = Identity.Clone(),
        };
    }
}
