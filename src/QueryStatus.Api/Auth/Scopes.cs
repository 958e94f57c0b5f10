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
    /// The scopes of a JWT: each <c>scope</c> claim may hold several, space-separated (OAuth 2.0 style);
    /// a token without any gets <see cref="Default"/>.
    /// </summary>
    public static IReadOnlyList<string> FromClaims(IEnumerable<Claim> claims)
    {
        var scopes = claims
            .Where(c => c.Type == QueryStatusClaims.Scope)
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        return scopes.Count == 0 ? Default : scopes;
    }

    public static bool HasScope(this ClaimsPrincipal user, string scope) => user.HasClaim(QueryStatusClaims.Scope, scope);

    /// <summary>Rewrites a JWT identity's scope claims as one claim per scope (<see cref="FromClaims"/>).</summary>
    public static void Normalize(ClaimsIdentity identity)
    {
        var scopes = FromClaims(identity.Claims);
        foreach (var claim in identity.FindAll(QueryStatusClaims.Scope).ToList())
        {
            identity.RemoveClaim(claim);
        }
        identity.AddClaims(scopes.Select(scope => new Claim(QueryStatusClaims.Scope, scope)));
    }
}
