using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Auth;

public sealed record ApiKeyEntry(string Name, string? LicenseId, bool Disabled, IReadOnlyList<string> Scopes)
{
    private ClaimsPrincipal? _principal;

    /// <summary>
    /// The principal every request made with this key acts as: name, license, one claim per scope, disabled flag.
    /// Built once and shared (a principal per poll was a tenth of a poll's allocations): nothing may add to it,
    /// and nothing does: there is no claims transformation, and JwtBearer's scope rewrite only sees JWT identities.
    /// </summary>
    public ClaimsPrincipal Principal => _principal ??= CreatePrincipal();

    private ClaimsPrincipal CreatePrincipal()
    {
        var claims = new List<Claim>(Scopes.Count + 3) { new(ClaimTypes.Name, Name) };
        if (LicenseId is not null)
        {
            claims.Add(new Claim(QueryStatusClaims.LicenseId, LicenseId));
        }
        foreach (var scope in Scopes)
        {
            claims.Add(new Claim(QueryStatusClaims.Scope, scope));
        }
        if (Disabled)
        {
            claims.Add(new Claim(QueryStatusClaims.KeyDisabled, "true"));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, ApiKeyAuthenticationHandler.SchemeName));
    }
}

/// <summary>
/// The configured API keys by SHA-256: a presented key is hashed and looked up, so plain keys are
/// never kept in memory past start-up and the lookup's timing says nothing about stored keys.
/// </summary>
public sealed class ApiKeyRegistry
{
    private readonly Dictionary<string, ApiKeyEntry> _byHash;
    private readonly Dictionary<string, ApiKeyEntry>.AlternateLookup<ReadOnlySpan<char>> _byHashText;

    public ApiKeyRegistry(IOptions<AuthOptions> options)
    {
        _byHash = new Dictionary<string, ApiKeyEntry>(StringComparer.Ordinal);
        foreach (var (key, index) in options.Value.ApiKeys.Select((k, i) => (k, i)))
        {
            var hash = key.KeyHash?.ToLowerInvariant() ?? Hash(key.Key!);
            _byHash[hash] = new ApiKeyEntry(
                key.Name ?? $"key-{index}",
                string.IsNullOrWhiteSpace(key.LicenseId) ? null : key.LicenseId,
                key.Disabled,
                key.Scopes is { Count: > 0 } scopes ? [.. scopes.Distinct()] : Auth.Scopes.Default);
        }
        _byHashText = _byHash.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Hashes on the stack and looks the hex digest up as a span: every request does this once.</summary>
    public ApiKeyEntry? Find(string presentedKey)
    {
        const int MaxStackBytes = 1024;
        var length = Encoding.UTF8.GetMaxByteCount(presentedKey.Length);
        // Sized to the key (stack memory is zeroed: a fixed 1 KiB buffer cost a 1 KiB memset per request).
        var utf8 = length <= MaxStackBytes ? stackalloc byte[length] : new byte[length];
        var written = Encoding.UTF8.GetBytes(presentedKey, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..written], digest);
        utf8[..written].Clear();
        Span<char> hex = stackalloc char[SHA256.HashSizeInBytes * 2];
        Convert.TryToHexStringLower(digest, hex, out _);
        return _byHashText.TryGetValue(hex, out var entry) ? entry : null;
    }

    public static string Hash(string key)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), digest);
        return Convert.ToHexStringLower(digest);
    }
}
