using System.Text.Json;
using System.Text.Unicode;

namespace QueryStatus.Api.Http;

/// <summary>
/// Whether a JSON value taken as sent (a sub-query, a row) is text every reader can read: UTF-8 throughout, and no escaped
/// surrogate without its pair (<c>"\ud800"</c>, which JSON's grammar admits but which is no character). Parsers check
/// neither when they only skip or hold a value, yet such values are handed out again as they came, and whoever reads them
/// (a worker's lease, a client's page, the indented output) would fail on them, or on the whole answer around them.
/// </summary>
public static class JsonText
{
    /// <summary>The rule, as every message that refuses a value by it says it.</summary>
    public const string Rule = "valid UTF-8 text, with no escaped surrogate (such as \\ud800) left without its pair";

    public static bool IsReadable(ReadOnlySpan<byte> value)
    {
        if (!Utf8.IsValid(value))
        {
            return false;
        }
        if (value.IndexOf("\\u"u8) < 0)
        {
            return true; // No escape that could be a surrogate: the common case, no second pass.
        }
        var reader = new Utf8JsonReader(value);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    _ = reader.GetString();
                }
            }
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
