using System.Security.Claims;

namespace QueryStatus.Api.Auth;

/// <summary>What a credential may do. Each endpoint group requires one of these as a policy of the same name.</summary>
public static class Scopes
{
    public const string QueryRead = "query:read";
    public const string QueryWrite = "query:write";
    public const string Worker = "worker";

    public static readonly IReadOnlyList<string> All = [QueryRead, QueryWrite, Worker];

    /// <summary>What a credential that names no scope gets: the client's read and write, never worker.</summary>
    public static readonly IReadOnlyList<string> Default = [QueryRead, QueryWrite];

    /// <summary>
    /// The scopes of a JWT: each <c>scope</c> claim (its type in any case: an issuer's "Scope" is still a scope
    /// claim, never the absence of one) may hold several, space-separated (OAuth 2.0 style). A token
    /// without any scope claim gets <see cref="Default"/>; a scope claim that names none grants none.
    /// </summary>
    public static IReadOnlyList<string> FromClaims(IEnumerable<Claim> claims)
    {
        var scopeClaims = claims.Where(IsScopeClaim).ToList();
        if (scopeClaims.Count == 0)
        {
            return Default;
        }
        return scopeClaims
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    public static bool HasScope(this ClaimsPrincipal user, string scope) => user.HasClaim(QueryStatusClaims.Scope, scope);

    /// <summary>Rewrites a JWT identity's scope claims (of any case) as one <c>scope</c> claim per scope (<see cref="FromClaims"/>).</summary>
    public static void Normalize(ClaimsIdentity identity)
    {
        var scopes = FromClaims(identity.Claims);
        foreach (var claim in identity.Claims.Where(IsScopeClaim).ToList())
        {
            identity.RemoveClaim(claim);
        }
        identity.AddClaims(scopes.Select(scope => new Claim(QueryStatusClaims.Scope, scope)));
    }

    private static bool IsScopeClaim(Claim claim) => string.Equals(claim.Type, QueryStatusClaims.Scope, StringComparison.OrdinalIgnoreCase);
}
