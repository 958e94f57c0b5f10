using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Auth;

public sealed record ApiKeyEntry(string Id, string Name, string? LicenseId, bool Disabled, IReadOnlyList<string> Scopes)
{
    private ClaimsPrincipal? _principal;
    private Task<AuthenticateResult>? _authenticated;

    /// <summary>
    /// The principal every request made with this key acts as: name, license, one claim per scope, disabled flag.
    /// Built once and shared (a principal per poll was a tenth of a poll's allocations): nothing may add to it,
    /// and nothing does: there is no claims transformation, and JwtBearer's scope rewrite only sees JWT identities.
    /// </summary>
    public ClaimsPrincipal Principal => _principal ??= CreatePrincipal();

    /// <summary>
    /// The handler's answer for this key, made once and shared like <see cref="Principal"/>: a ticket, its properties
    /// and the task around them per request were a tenth of a poll's allocations. Nothing writes to authentication
    /// properties here (no sign-in, no challenge reads them).
    /// </summary>
    public Task<AuthenticateResult> Authenticated =>
        _authenticated ??= Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(Principal, CredentialAuthenticationHandler.SchemeName)));

    private ClaimsPrincipal CreatePrincipal()
    {
        var claims = new List<Claim>(Scopes.Count + 4) { new(ClaimTypes.Name, Name), new(QueryStatusClaims.ApiKeyId, Id) };
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
        return new ClaimsPrincipal(new ClaimsIdentity(claims, CredentialAuthenticationHandler.ApiKeyAuthenticationType));
    }
}

/// <summary>
/// The configured API keys by SHA-256: a presented key is hashed and looked up, so configured keys are never
/// kept in memory past start-up and the lookup's timing says nothing about stored keys.
/// </summary>
/// <remarks>
/// A poller sends the same key on every request of a keep-alive connection, and hashing it was 4–5% of a status
/// poll's CPU (bench/RESULTS.md). <see cref="Find(string, HttpContext)"/> therefore lets an HTTP/1.x connection
/// remember the last valid key presented on it and its entry: the next request with the same key (compared in
/// constant time, so another client sharing a proxy's connection learns nothing by timing) skips the hash. The key
/// lives as long as the connection, as the request bytes that carried it do; unknown keys are never remembered.
/// HTTP/2 and HTTP/3 connections serve requests concurrently and are not used.
/// </remarks>
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
                $"key-{index}",
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

    /// <summary>
    /// <see cref="Find(string)"/>, remembered per keep-alive connection (see the remarks on the class).
    /// </summary>
    public ApiKeyEntry? Find(string presentedKey, HttpContext context)
    {
        var protocol = context.Request.Protocol;
        var items = HttpProtocol.IsHttp11(protocol) || HttpProtocol.IsHttp10(protocol)
            ? context.Features.Get<IConnectionItemsFeature>()?.Items
            : null;
        if (items is not null && items.TryGetValue(MemoSlot, out var remembered)
            && remembered is KeyMemo memo && memo.Registry == this && memo.Matches(presentedKey))
        {
            return memo.Entry;
        }
        var entry = Find(presentedKey);
        if (items is not null && entry is not null && Ascii.IsValid(presentedKey))
        {
            items[MemoSlot] = new KeyMemo(this, presentedKey, entry);
        }
        return entry;
    }

    /// <summary>The connection items' key for the memo: private, so nothing else can read or replace it.</summary>
    private static readonly object MemoSlot = new();

    /// <param name="registry">Whose answer this is: another registry (a test host's, or one rebuilt from new
    /// settings) must not be answered from it.</param>
    /// <param name="key">The valid key presented on the connection.</param>
    /// <param name="entry">What <paramref name="registry"/> found for it.</param>
    private sealed class KeyMemo(ApiKeyRegistry registry, string key, ApiKeyEntry entry)
    {
        public ApiKeyRegistry Registry { get; } = registry;

        public ApiKeyEntry Entry { get; } = entry;

        // The key's ASCII bytes (keys are ASCII by rule; others are never remembered): FixedTimeEquals is compiled
        // without optimization on purpose and costs about 4 ns a byte, so half the bytes of the UTF-16 form nearly halve
        // it (a 38-character key, three runs, 2026-12-05: 274-361 ns as UTF-16, 152-178 ns narrowed to ASCII here).
        private readonly byte[] _key = Encoding.ASCII.GetBytes(key);

        /// <summary>Equal or not in a time that depends only on the length (and, for a non-ASCII key, on where its first non-ASCII character is).</summary>
        public bool Matches(string presented)
        {
            if (presented.Length != _key.Length)
            {
                return false;
            }
            Span<byte> narrow = stackalloc byte[_key.Length];
            var equal = Ascii.FromUtf16(presented, narrow, out _) == System.Buffers.OperationStatus.Done
                && CryptographicOperations.FixedTimeEquals(_key, narrow);
            narrow.Clear();
            return equal;
        }
    }

    public static string Hash(string key)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), digest);
        return Convert.ToHexStringLower(digest);
    }
}
