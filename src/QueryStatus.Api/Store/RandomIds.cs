using System.Buffers.Text;
using System.Security.Cryptography;

namespace QueryStatus.Api.Store;

/// <summary>Unguessable URL-safe identifiers: CSPRNG bytes as base64url (4 characters per 3 bytes).</summary>
public static class RandomIds
{
    public static string UrlSafe(int bytes)
    {
        Span<byte> random = stackalloc byte[bytes];
        RandomNumberGenerator.Fill(random);
        return Base64Url.EncodeToString(random);
    }
}
