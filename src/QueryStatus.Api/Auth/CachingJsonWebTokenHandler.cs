using System.Collections.Concurrent;
using System.Security.Claims;
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
/// except for time, which is checked again on every hit with the service's clock and the same rule
/// (<c>nbf</c> and <c>exp</c> with the configured clock skew), so an expired token is refused exactly as
/// before. What can change is the configuration (signing keys rotated by an identity provider), so an entry is
/// used for at most <see cref="MaxAge"/> after it was validated. Failures are never cached. At most about
/// <see cref="Capacity"/> tokens are kept; when full the cache starts over. Each hit hands out a copy of the
/// identity, because the framework's token-validated event rewrites the identity's scope claims.
/// </remarks>
public sealed class CachingJsonWebTokenHandler(TimeProvider time) : JsonWebTokenHandler
{
    public const int Capacity = 10_000;
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private int _count;

    /// <summary>Tokens held now (for tests).</summary>
    internal int Count => _entries.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        if (token is null || validationParameters is null)
        {
            return await base.ValidateTokenAsync(token, validationParameters);
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (_entries.TryGetValue(token, out var cached))
        {
            if (cached.IsUsableAt(now, validationParameters.ClockSkew))
            {
                return cached.ToResult();
            }
            if (_entries.TryRemove(token, out _))
            {
                Interlocked.Decrement(ref _count);
            }
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is JsonWebToken jwt && result.ClaimsIdentity is { } identity)
        {
            Add(token, new Entry(jwt, result.Issuer, result.TokenType, identity.Clone(), now + MaxAge));
        }
        return result;
    }

    /// <summary>
    /// The principal of a token that passed full validation and is still usable now (same time rule as
    /// <see cref="ValidateTokenAsync"/>), with its scopes already normalized; null when the token is not cached or
    /// no longer usable (then validate it). The principal is shared by every request with this token: read-only.
    /// </summary>
    public ClaimsPrincipal? TryGetValidated(string token, TokenValidationParameters validationParameters) =>
        _entries.TryGetValue(token, out var cached) && cached.IsUsableAt(time.GetUtcNow().UtcDateTime, validationParameters.ClockSkew)
            ? cached.Principal
            : null;

    private void Add(string token, Entry entry)
    {
        if (Volatile.Read(ref _count) >= Capacity)
        {
            _entries.Clear();
            Interlocked.Exchange(ref _count, 0);
        }
        if (_entries.TryAdd(token, entry))
        {
            Interlocked.Increment(ref _count);
        }
    }

    private sealed record Entry(JsonWebToken Token, string? Issuer, string? TokenType, ClaimsIdentity Identity, DateTime UsableUntil)
    {
        public ClaimsPrincipal Principal { get; } = NormalizedPrincipal(Identity);

        private static ClaimsPrincipal NormalizedPrincipal(ClaimsIdentity identity)
        {
            var copy = identity.Clone();
            Scopes.Normalize(copy);
            return new ClaimsPrincipal(copy);
        }

        /// <summary>The lifetime rule of the full validation (see AuthExtensions), plus the entry's own age limit.</summary>
        public bool IsUsableAt(DateTime now, TimeSpan skew) =>
            now < UsableUntil
            && Token.ValidTo != DateTime.MinValue
            && Token.ValidTo >= now - skew
            && (Token.ValidFrom == DateTime.MinValue || Token.ValidFrom <= now + skew);

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
