using Microsoft.Net.Http.Headers;

namespace QueryStatus.Api.Auth;

/// <summary>Sends each request to JwtBearer or to the API-key handler.</summary>
public static class AuthSchemeSelector
{
    public const string PolicyScheme = "ApiKeyOrJwt";

    /// <summary>A bearer token shaped like a JWT (dot-separated segments) goes to JwtBearer; anything
    /// else, including no credential, to the API-key handler (API keys cannot contain dots).</summary>
    public static string Select(HttpContext context) =>
        BearerToken(context.Request) is { } token && token.Contains('.')
            ? Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerDefaults.AuthenticationScheme
            : ApiKeyAuthenticationHandler.SchemeName;

    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers[HeaderNames.Authorization].ToString();
        const string prefix = "Bearer ";
        return header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header.Length > prefix.Length
            ? header[prefix.Length..].Trim()
            : null;
    }
}
