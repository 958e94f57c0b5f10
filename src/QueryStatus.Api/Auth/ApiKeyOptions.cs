using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Auth;

public sealed class AuthOptions
{
    public const string Section = "Auth";

    public List<ApiKeyOptions> ApiKeys { get; set; } = [];
}

/// <summary>One API key from <c>Auth:ApiKeys</c>. Classes with setters: configuration binding drops
/// array items bound to positional records that miss a value.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>SHA-256 of the key, 64 hex digits.</summary>
    public string? KeyHash { get; set; }

    /// <summary>The key in plain text; accepted in Development only.</summary>
    public string? Key { get; set; }

    public string? LicenseId { get; set; }

    public string? Name { get; set; }

    public bool Disabled { get; set; }

    /// <summary>What the key may do: query:read, query:write, worker. None listed: query:read + query:write.</summary>
    public List<string>? Scopes { get; set; }
}

public sealed class AuthOptionsValidator(IHostEnvironment environment) : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.ApiKeys.Count; i++)
        {
            var key = options.ApiKeys[i];
            // Binding compacts the list, so the position can differ from the configuration index: show the name too.
            var where = $"Auth:ApiKeys entry #{i}" + (key.Name is { Length: > 0 } n ? $" ({n})" : "");
            if (key.Key is not null && !environment.IsDevelopment())
            {
                failures.Add($"{where}: a plain Key is accepted in Development only; configure KeyHash (the SHA-256 of the key in hex) instead.");
                continue;
            }
            if (key.Key is not null && key.KeyHash is not null)
            {
                failures.Add($"{where}: give either Key or KeyHash, not both.");
                continue;
            }
            if (key.Key is null && key.KeyHash is null)
            {
                failures.Add($"{where}: KeyHash (the SHA-256 of the key in hex) is required.");
                continue;
            }
            if (key.Key is not null && !Parameters.ParameterRules.IsApiKey(key.Key))
            {
                failures.Add($"{where}: Key must be {Parameters.ParameterRules.ApiKeyRule}.");
                continue;
            }
            if (key.KeyHash is not null && (key.KeyHash.Length != 64 || !key.KeyHash.All(char.IsAsciiHexDigit)))
            {
                failures.Add($"{where}: KeyHash must be 64 hex digits (the SHA-256 of the key).");
                continue;
            }
            var scopes = key.Scopes is { Count: > 0 } listed ? listed : Auth.Scopes.Default;
            if (scopes.FirstOrDefault(s => !Auth.Scopes.All.Contains(s)) is { } unknown)
            {
                failures.Add($"{where}: unknown scope '{unknown}'; use {string.Join(", ", Auth.Scopes.All)}.");
            }
            var needsLicense = scopes.Any(s => s != Auth.Scopes.Worker);
            if (needsLicense && string.IsNullOrWhiteSpace(key.LicenseId))
            {
                failures.Add($"{where}: LicenseId is required for the query:read and query:write scopes.");
            }
            if (!hashes.Add(key.KeyHash ?? ApiKeyRegistry.Hash(key.Key!)))
            {
                failures.Add($"{where}: the same key is configured twice.");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
