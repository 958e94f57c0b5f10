using System.Security.Cryptography;
using System.Text;

namespace QueryStatus.Bench;

/// <summary>Mints an HS256 JWT, the kind `dotnet user-jwts` issues, without any token library.</summary>
public static class Jwt
{
    public static string CreateHs256(byte[] key, string issuer, string audience, string licenseId, TimeSpan lifetime)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        var payload =
            $"{{\"sub\":\"bench-user\",\"license_id\":\"{licenseId}\",\"iss\":\"{issuer}\",\"aud\":\"{audience}\"," +
            $"\"nbf\":{now - 60},\"iat\":{now - 60},\"exp\":{now + (long)lifetime.TotalSeconds}}}";
        var signingInput = Base64Url(Encoding.UTF8.GetBytes(header)) + "." + Base64Url(Encoding.UTF8.GetBytes(payload));
        var signature = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
