using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Auth;

/// <summary>
/// Tells, without the authentication and authorization middleware, whether a request carries a credential that
/// they would accept for a scope, and as whom. Used by the status fast lane, which answers only when this is
/// certain: null means "not certain" (no credential, a malformed or unknown one, a disabled key, a missing scope
/// or license, a JWT scheme that fetches its keys from an authority), and the full pipeline then decides and
/// describes the refusal. It reads credentials exactly where the handlers do and decides with the same parts:
/// <see cref="ApiKeyRegistry"/>, JwtBearer's own options and token handler, <see cref="ScopeRequirement.Permits"/>.
/// </summary>
public sealed class CredentialCheck(ApiKeyRegistry registry, IOptionsMonitor<JwtBearerOptions> jwtOptions)
{
    public ValueTask<ClaimsPrincipal?> TryAuthorizeAsync(HttpContext context, RequestParameters parameters, string scope)
    {
        string? credential;
        if (context.Request.Headers.ContainsKey(HeaderNames.Authorization))
        {
            // As in the handlers: a present Authorization header alone counts.
            credential = AuthSchemeSelector.BearerToken(context.Request);
            if (credential is null)
            {
                return ValueTask.FromResult<ClaimsPrincipal?>(null);
            }
            if (credential.Contains('.'))
            {
                return TryJwtAsync(credential, scope);
            }
        }
        else
        {
            credential = parameters[ParameterNames.ApiKey];
        }

        if (credential is null || !ParameterRules.ApiKey().IsMatch(credential) || registry.Find(credential) is not { } entry)
        {
            return ValueTask.FromResult<ClaimsPrincipal?>(null);
        }
        var principal = entry.Principal;
        return ValueTask.FromResult(ScopeRequirement.Permits(principal, scope) ? principal : null);
    }

    private async ValueTask<ClaimsPrincipal?> TryJwtAsync(string token, string scope)
    {
        var options = jwtOptions.Get(JwtBearerDefaults.AuthenticationScheme);
        // With an authority the handler first fetches (and may refresh) signing keys: leave that to it.
        if (options.ConfigurationManager is not null || options.TokenHandlers.Count != 1)
        {
            return null;
        }
        var handler = options.TokenHandlers[0];
        if (handler is CachingJsonWebTokenHandler cache && cache.TryGetValidated(token, options.TokenValidationParameters) is { } known)
        {
            return ScopeRequirement.Permits(known, scope) ? known : null;
        }
        var result = await handler.ValidateTokenAsync(token, options.TokenValidationParameters);
        if (!result.IsValid || result.ClaimsIdentity is not { } identity)
        {
            return null;
        }
        Scopes.Normalize(identity);
        var principal = new ClaimsPrincipal(identity);
        return ScopeRequirement.Permits(principal, scope) ? principal : null;
    }
}
