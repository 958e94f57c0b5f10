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

    public static string GetLicenseId(this ClaimsPrincipal user) =>
        user.FindFirstValue(LicenseId)
        ?? throw new InvalidOperationException("The authorization policy lets only principals with a license_id through.");

    public static string? LicenseIdOrNull(this ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true ? user.FindFirstValue(LicenseId) : null;
}
