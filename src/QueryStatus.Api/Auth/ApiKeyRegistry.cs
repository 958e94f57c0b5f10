using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Auth;

public sealed record ApiKeyEntry(string Name, string? LicenseId, bool Disabled, IReadOnlyList<string> Scopes);

/// <summary>
/// The configured API keys by SHA-256: a presented key is hashed and looked up, so plain keys are
/// never kept in memory past start-up and the lookup's timing says nothing about stored keys.
/// </summary>
public sealed class ApiKeyRegistry
{
    private readonly Dictionary<string, ApiKeyEntry> _byHash;

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
    }

    public ApiKeyEntry? Find(string presentedKey) => _byHash.GetValueOrDefault(Hash(presentedKey));

    public static string Hash(string key)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), digest);
        return Convert.ToHexStringLower(digest);
    }
}
