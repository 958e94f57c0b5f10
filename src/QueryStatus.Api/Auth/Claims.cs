using System.Security.Claims;

namespace QueryStatus.Api.Auth;

public static class QueryStatusClaims
{
    /// <summary>The license a credential acts for; API keys get it from configuration, JWTs carry it.</summary>
    public const string LicenseId = "license_id";

    /// <summary>Set on a principal made from a disabled API key, so authorization can answer 403.</summary>
    public const string KeyDisabled = "key_disabled";

    /// <summary>One claim per scope the credential grants (JWTs may carry them space-separated in one).</summary>
    public const string Scope = "scope";

    /// <summary>Which configured API key a principal came from (<c>key-N</c>, N its place in <c>Auth:ApiKeys</c>).</summary>
    public const string ApiKeyId = "api_key_id";

    public static string GetLicenseId(this ClaimsPrincipal user) =>
        user.FindFirstValue(LicenseId)
        ?? throw new InvalidOperationException("The authorization policy lets only principals with a license_id through.");

    public static string? LicenseIdOrNull(this ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true ? user.FindFirstValue(LicenseId) : null;

    /// <summary>
    /// The credential an authenticated principal presented, as a stable name (never the secret): <c>key-N</c> for
    /// an API key; <c>jwt:</c> the issuer and the subject for a JWT (its <c>client_id</c> or <c>azp</c> when it has no
    /// <c>sub</c>: what OAuth client-credentials tokens carry). Null when not authenticated.
    /// </summary>
    public static string? CredentialOrNull(this ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true)
        {
            return null;
        }
        if (user.FindFirstValue(ApiKeyId) is { } key)
        {
            return key;
        }
        var subject = user.FindFirstValue("sub") ?? user.FindFirstValue("client_id") ?? user.FindFirstValue("azp") ?? "";
        return "jwt:" + user.FindFirstValue("iss") + "|" + subject;
    }
}
