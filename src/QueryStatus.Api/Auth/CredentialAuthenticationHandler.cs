using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Auth;

/// <summary>
/// The one authentication handler: JwtBearer's, answering API keys itself. An API key comes as
/// <c>Authorization: Bearer &lt;key&gt;</c> (as the original API accepts) or as <c>api_key</c>, plain or inside
/// <c>json</c>; a bearer token shaped like a JWT (dot-separated segments; API keys cannot contain dots) goes to
/// JwtBearer's own validation, options and events unchanged. When an Authorization header is present it alone counts.
/// </summary>
/// <remarks>
/// One handler rather than an API-key scheme that forwards JWTs to JwtBearer: the forward ran a second
/// authentication service call and a second handler per JWT request (bench/RESULTS.md, 2026-12-04).
/// </remarks>
public sealed class CredentialAuthenticationHandler(
    IOptionsMonitor<JwtBearerOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyRegistry registry)
    : JwtBearerHandler(options, logger, encoder)
{
    public const string SchemeName = JwtBearerDefaults.AuthenticationScheme;

    /// <summary>The authentication type of an API key's identity (a JWT's is JwtBearer's).</summary>
    public const string ApiKeyAuthenticationType = "ApiKey";

    private string _challengeReason = "Send an API key as api_key or as Authorization: Bearer <key>, or a JWT as Authorization: Bearer <token>.";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? key;
        if (Request.Headers.ContainsKey(HeaderNames.Authorization))
        {
            if (!TryBearer(Request, out var credential))
            {
                _challengeReason = "The Authorization header must be 'Bearer <API key or JWT>'.";
                return Task.FromResult(AuthenticateResult.Fail("Unsupported Authorization header."));
            }
            if (IsJwt(credential))
            {
                // JwtBearer reads the token from the header itself: a copy made here only to look at it would be
                // the token's size again in garbage on every JWT request.
                return base.HandleAuthenticateAsync();
            }
            key = credential.ToString();
        }
        else
        {
            key = RequestParameters.For(Context)[ParameterNames.ApiKey];
            if (key is null)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
        }

        if (!ParameterRules.IsApiKey(key))
        {
            // A malformed key is a malformed request, and never matches a configured key anyway.
            throw ApiException.BadRequest($"api_key: must be {ParameterRules.ApiKeyRule}.");
        }

        var entry = registry.Find(key, Context);
        if (entry is null)
        {
            _challengeReason = "The API key is not valid.";
            return Task.FromResult(AuthenticateResult.Fail("Unknown API key."));
        }

        return entry.Authenticated;
    }

    /// <summary>A JWT's challenge is JwtBearer's (its events describe the failure); everything else gets ours.</summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (TryBearer(Request, out var token) && IsJwt(token))
        {
            return base.HandleChallengeAsync(properties);
        }
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"QueryStatus\"";
        ErrorDetail.Set(Context, _challengeReason);
        return Task.CompletedTask;
    }

    private static bool IsJwt(ReadOnlySpan<char> token) => token.Contains('.');

    /// <summary>The credential of an <c>Authorization: Bearer &lt;credential&gt;</c> header, trimmed; false for any other header.</summary>
    private static bool TryBearer(HttpRequest request, out ReadOnlySpan<char> credential)
    {
        var header = request.Headers[HeaderNames.Authorization].ToString();
        const string prefix = "Bearer ";
        if (header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header.Length > prefix.Length)
        {
            credential = header.AsSpan(prefix.Length).Trim();
            return true;
        }
        credential = default;
        return false;
    }
}
