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
/// or license, a JWT not yet validated by the pipeline, a JWT scheme that fetches its keys from an authority), and
/// the full pipeline then decides and describes the refusal. It reads credentials exactly where the handlers do
/// and decides with the same parts: <see cref="ApiKeyRegistry"/>, JwtBearer's own token cache and options,
/// <see cref="ScopeRequirement.Permits"/>.
/// </summary>
public sealed class CredentialCheck(ApiKeyRegistry registry, IOptionsMonitor<JwtBearerOptions> jwtOptions)
{
    public ClaimsPrincipal? TryAuthorize(HttpContext context, RequestParameters parameters, string scope)
    {
        string? credential;
        if (context.Request.Headers.ContainsKey(HeaderNames.Authorization))
        {
            // As in the handlers: a present Authorization header alone counts.
            credential = AuthSchemeSelector.BearerToken(context.Request);
            if (credential is null)
            {
                return null;
            }
            if (credential.Contains('.'))
            {
                return TryJwt(credential, scope);
            }
        }
        else
        {
            credential = parameters[ParameterNames.ApiKey];
        }

        if (credential is null || !ParameterRules.ApiKey().IsMatch(credential) || registry.Find(credential, context) is not { } entry)
        {
            return null;
        }
        return ScopeRequirement.Permits(entry.Principal, scope) ? entry.Principal : null;
    }

    /// <summary>
    /// Only tokens JwtBearer already validated (and cached) are accepted here: a new or failing token goes to the
    /// pipeline, which validates it once (and caches it when it passes), so no token is ever validated twice.
    /// </summary>
    private ClaimsPrincipal? TryJwt(string token, string scope)
    {
        var options = jwtOptions.Get(JwtBearerDefaults.AuthenticationScheme);
        // With an authority the handler first fetches (and may refresh) signing keys: leave that to it.
        if (options.ConfigurationManager is not null
            || options.TokenHandlers is not [CachingJsonWebTokenHandler cache]
            || cache.TryGetValidated(token, options.TokenValidationParameters) is not { } principal)
        {
            return null;
        }
        return ScopeRequirement.Permits(principal, scope) ? principal : null;
    }
}
