using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Net.Http.Headers;

namespace QueryStatus.Api.Auth;

/// <summary>Which handler a request's credential belongs to: the API-key handler (the default scheme) or JwtBearer.</summary>
public static class AuthSchemeSelector
{
    /// <summary>
    /// The API-key scheme's forward selector: a bearer token shaped like a JWT (dot-separated segments) is JwtBearer's;
    /// anything else, including no credential, stays with the API-key handler (null), since API keys cannot contain dots.
    /// </summary>
    public static string? ForwardJwt(HttpContext context) =>
        BearerToken(context.Request) is { } token && token.Contains('.') ? JwtBearerDefaults.AuthenticationScheme : null;

    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers[HeaderNames.Authorization].ToString();
        const string prefix = "Bearer ";
        return header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header.Length > prefix.Length
            ? header[prefix.Length..].Trim()
            : null;
    }
}
