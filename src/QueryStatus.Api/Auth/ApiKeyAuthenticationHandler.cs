using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Auth;

/// <summary>
/// Authenticates an API key given as <c>Authorization: Bearer &lt;key&gt;</c> (as the original API
/// accepts) or as <c>api_key</c>, plain or inside <c>json</c>. When an Authorization header is
/// present it alone counts.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyRegistry registry)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    private string _challengeReason = "Send an API key as api_key or as Authorization: Bearer <key>, or a JWT as Authorization: Bearer <token>.";

    /// <summary>The scheme has no events; the base class would make a new placeholder object for every request.</summary>
    private static readonly Task<object> NoEvents = Task.FromResult(new object());

    protected override Task<object> CreateEventsAsync() => NoEvents;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? key;
        if (Request.Headers.ContainsKey(HeaderNames.Authorization))
        {
            key = AuthSchemeSelector.BearerToken(Request);
            if (key is null)
            {
                _challengeReason = "The Authorization header must be 'Bearer <API key or JWT>'.";
                return Task.FromResult(AuthenticateResult.Fail("Unsupported Authorization header."));
            }
        }
        else
        {
            key = RequestParameters.For(Context)[ParameterNames.ApiKey];
            if (key is null)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
        }

        if (!ParameterRules.ApiKey().IsMatch(key))
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

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"QueryStatus\"";
        ErrorDetail.Set(Context, _challengeReason);
        return Task.CompletedTask;
    }
}
