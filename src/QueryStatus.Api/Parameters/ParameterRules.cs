using System.Globalization;
using QueryStatus.Api.Http;

namespace QueryStatus.Api.Parameters;

/// <summary>The lexical rules of the API's parameters, shared by every validator that checks them (schedule IDs: <see cref="Store.ScheduleIds"/>).</summary>
public static class ParameterRules
{
    public const int ApiKeyMaxLength = 255;
    public const long OffsetMax = 1_000_000;

    public const string ApiKeyRule = "1–255 characters of " + UrlSafeText.Alphabet;

    public static bool IsApiKey(string? text) => UrlSafeText.Is(text, ApiKeyMaxLength);

    /// <summary>A plain decimal integer: optional minus sign and digits, nothing else (no "1e3", "+5", " 5", "5.0").</summary>
    public static bool TryParseInteger(string? text, out long value)
    {
        value = 0;
        return text is { Length: > 0 and <= 20 }
            && (char.IsAsciiDigit(text[0]) || (text[0] == '-' && text.Length > 1))
            && text.AsSpan(1).ContainsOnlyAsciiDigits()
            && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    private static bool ContainsOnlyAsciiDigits(this ReadOnlySpan<char> span) => !span.ContainsAnyExceptInRange('0', '9');
}
