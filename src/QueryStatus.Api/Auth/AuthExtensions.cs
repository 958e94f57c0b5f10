using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Observability;

namespace QueryStatus.Api.Auth;

public static class AuthExtensions
{
    public static IServiceCollection AddQueryStatusAuth(this IServiceCollection services)
    {
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        services.AddSingleton<ApiKeyRegistry>();
        // The request line names the caller's license.
        services.Configure<RequestLogOptions>(o => o.LicenseOf = user => user.LicenseIdOrNull());

        // One scheme, JwtBearer's, whose handler answers API keys itself (CredentialAuthenticationHandler): every request
        // costs one handler. AddJwtBearer keeps the framework's binding of Authentication:Schemes:Bearer and its options
        // checks; only the handler type is ours.
        services.AddAuthentication(CredentialAuthenticationHandler.SchemeName)
            // Issuer, audiences, signing keys or Authority come from Authentication:Schemes:Bearer, bound by
            // the framework before this delegate runs (what `dotnet user-jwts` writes): nothing here may
            // replace TokenValidationParameters.
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                // Nothing reads the raw token back from the authentication properties: don't copy it there per request.
                o.SaveToken = false;
                // Scopes arrive space-separated in one claim (OAuth 2.0), or not at all: CachingJsonWebTokenHandler (the
                // only token handler, installed below) gives every JWT identity one scope claim per scope.
                o.Events = new JwtBearerEvents
                {
                    OnChallenge = context =>
                    {
                        ErrorDetail.Set(context.HttpContext, DescribeJwtFailure(context.AuthenticateFailure));
                        return Task.CompletedTask;
                    },
                };
            });
        services.AddTransient<CredentialAuthenticationHandler>();
        services.Configure<AuthenticationOptions>(o =>
            o.SchemeMap[CredentialAuthenticationHandler.SchemeName].HandlerType = typeof(CredentialAuthenticationHandler));

        // The framework validates issuer and audience only when some are configured; we never accept a
        // token whose issuer and audience nobody named.
        // Lifetimes are checked against the app's clock, the one expiry and tests move, not the wall clock.
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).PostConfigure<TimeProvider>((o, time) =>
        {
            o.TimeProvider = time;
            o.TokenValidationParameters.LifetimeValidator = (notBefore, expires, _, parameters) =>
                ValidateLifetime(time.GetUtcNow().UtcDateTime, notBefore, expires, parameters.ClockSkew);
            o.TokenValidationParameters.ValidateIssuer = true;
            o.TokenValidationParameters.ValidateAudience = true;
            o.TokenValidationParameters.RequireSignedTokens = true;
            // The framework reads configured signing keys (Authentication:Schemes:Bearer:SigningKeys) through a lazy
            // sequence that decodes them again whenever it is enumerated, which it was on every request: a twelfth of a
            // JWT poll's CPU (bench/RESULTS.md). The keys are the same until the options are rebuilt, so read them once.
            if (o.TokenValidationParameters.IssuerSigningKeys is { } keys)
            {
                o.TokenValidationParameters.IssuerSigningKeys = [.. keys];
            }
            // Tokens that passed are remembered until they expire (or for a few minutes): pollers resend the same one.
            o.TokenHandlers.Clear();
            o.TokenHandlers.Add(new CachingJsonWebTokenHandler(time) { MapInboundClaims = o.MapInboundClaims });
        });

        // One policy per scope, named after it, with one requirement: the rule is ScopeRequirement's (an authenticated
        // caller among it). A failed policy is a challenge (401) when authentication did not succeed and a forbid (403)
        // when it did: the policy evaluator decides that, so no separate "authenticated" requirement is needed.
        var authorization = services.AddAuthorizationBuilder();
        foreach (var scope in Scopes.All)
        {
            authorization.AddPolicy(scope, policy => policy.AddRequirements(new ScopeRequirement(scope)));
        }
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, DescribingAuthorizationResultHandler>();
        return services;
    }

    /// <summary>The framework's lifetime rules (expiry required, clock skew allowed), on our clock.</summary>
    private static bool ValidateLifetime(DateTime now, DateTime? notBefore, DateTime? expires, TimeSpan skew)
    {
        if (expires is null)
        {
            throw new SecurityTokenNoExpirationException("The token has no expiry.");
        }
        if (notBefore is { } start && start > now + skew)
        {
            throw new SecurityTokenNotYetValidException("The token is not valid yet.") { NotBefore = start };
        }
        if (expires.Value < now - skew)
        {
            throw new SecurityTokenExpiredException("The token has expired.") { Expires = expires.Value };
        }
        return true;
    }

    private static string DescribeJwtFailure(Exception? failure) => failure switch
    {
        null => "The bearer token was not accepted.",
        SecurityTokenExpiredException => "The token has expired.",
        SecurityTokenNotYetValidException => "The token is not valid yet.",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException =>
            "The token's signature is not valid.",
        SecurityTokenInvalidIssuerException => "The token's issuer is not accepted.",
        SecurityTokenInvalidAudienceException => "The token's audience is not accepted.",
        SecurityTokenMalformedException => "The token is malformed.",
        SecurityTokenNoExpirationException => "The token has no expiry (exp).",
        _ => "The token is not valid.",
    };
}

/// <summary>Says why a request was forbidden before the framework's forbid sets the 403.</summary>
public sealed class DescribingAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden)
        {
            var user = context.User;
            var missingScope = policy.Requirements.OfType<ScopeRequirement>()
                .Select(r => r.Scope)
                .FirstOrDefault(scope => !user.HasScope(scope));
            ErrorDetail.Set(context,
                user.HasClaim(QueryStatusClaims.KeyDisabled, "true") ? "This API key is disabled."
                : missingScope is not null ? $"This credential lacks the '{missingScope}' scope."
                : user.FindFirst(QueryStatusClaims.LicenseId) is null ? "The credential is not bound to a license: a JWT needs a license_id claim."
                : "This credential may not perform this request.");
        }
        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
