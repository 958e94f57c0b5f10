using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>Mints JWTs the way an identity provider (or <c>dotnet user-jwts</c>) would.</summary>
public static class TestJwt
{
    public const string Issuer = "https://issuer.querystatus.test";
    public const string Audience = "querystatus-tests";

    public static readonly byte[] SigningKey = Encoding.UTF8.GetBytes("querystatus-test-signing-key-0123456789abcdef");
    public static readonly string SigningKeyBase64 = Convert.ToBase64String(SigningKey);

    public static string Create(
        string? licenseId,
        DateTimeOffset now,
        string issuer = Issuer,
        string audience = Audience,
        byte[]? signingKey = null,
        TimeSpan? lifetime = null,
        IEnumerable<Claim>? extraClaims = null,
        string subject = "test-user")
    {
        var claims = new List<Claim> { new("sub", subject) };
        if (licenseId is not null)
        {
            claims.Add(new Claim("license_id", licenseId));
        }
        claims.AddRange(extraClaims ?? []);

        var notBefore = now.AddMinutes(-5);
        var expires = now + (lifetime ?? TimeSpan.FromHours(1));
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = notBefore.UtcDateTime,
            NotBefore = notBefore.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(signingKey ?? SigningKey), SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    /// <summary>An unsigned token (<c>alg: none</c>) with valid-looking claims.</summary>
    public static string CreateUnsigned(string licenseId, DateTimeOffset now)
    {
        static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var header = B64("{\"alg\":\"none\",\"typ\":\"JWT\"}");
        var payload = B64(
            $"{{\"sub\":\"test-user\",\"license_id\":\"{licenseId}\",\"iss\":\"{Issuer}\",\"aud\":\"{Audience}\"," +
            $"\"nbf\":{now.AddMinutes(-5).ToUnixTimeSeconds()},\"exp\":{now.AddHours(1).ToUnixTimeSeconds()}}}");
        return $"{header}.{payload}.";
    }
}
