using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Http;

namespace QueryStatus.Api.Parameters;

/// <summary>
/// The request's parameters, given either as plain query parameters or inside one URL-encoded JSON
/// object in <c>json</c> (as the original API accepts), merged into one view. Parsed once per request
/// and shared by authentication (which needs <c>api_key</c>) and the endpoint.
/// </summary>
public sealed class RequestParameters
{
    public const string JsonParameter = "json";

    /// <summary>The values by slot (<see cref="ParameterNames.InOrder"/>): one reference each, where a dictionary per request cost five times that.</summary>
    private readonly string?[] _values;

    private RequestParameters(string?[] values) => _values = values;

    /// <summary>The parameter's value as text, or null when absent (a JSON <c>null</c> counts as absent).</summary>
    public string? this[string name] => ParameterNames.Slots.TryGetValue(name, out var slot) ? _values[slot] : null;

    /// <summary>
    /// Parses and caches the parameters of <paramref name="context"/>; throws a 400
    /// <see cref="ApiException"/> naming the parameter and the rule when they cannot be read.
    /// </summary>
    public static RequestParameters For(HttpContext context)
    {
        if (context.Features.Get<RequestParameters>() is { } cached)
        {
            return cached;
        }
        var parsed = Parse(context.Request.QueryString.Value);
        context.Features.Set(parsed);
        return parsed;
    }

    private static readonly FrozenDictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> SlotsBySpan =
        ParameterNames.Slots.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// One pass over the raw query string with the framework's own <see cref="QueryStringEnumerable"/> (the splitting
    /// and decoding <see cref="HttpRequest.Query"/> uses: names in any case, <c>+</c> and %-escapes), making strings
    /// only of the values the API reads: no query collection is built. Polls are the most frequent request.
    /// </summary>
    private static RequestParameters Parse(string? queryString)
    {
        var values = new string?[ParameterNames.InOrder.Count];
        string? json = null;
        foreach (var pair in new QueryStringEnumerable(queryString))
        {
            var key = pair.DecodeName().Span;
            if (SlotsBySpan.TryGetValue(key, out var slot))
            {
                if (values[slot] is not null)
                {
                    throw ApiException.BadRequest($"{ParameterNames.InOrder[slot]}: given more than once; give it once.");
                }
                values[slot] = pair.DecodeValue().ToString();
            }
            else if (key.Equals(JsonParameter, StringComparison.OrdinalIgnoreCase))
            {
                if (json is not null)
                {
                    throw ApiException.BadRequest("json: given more than once; give one JSON object.");
                }
                json = pair.DecodeValue().ToString();
            }
        }
        if (json is null)
        {
            return new RequestParameters(values);
        }

        foreach (var (slot, value) in ReadJsonObject(json))
        {
            if (values[slot] is { } plain && !SameValue(plain, value))
            {
                throw ApiException.BadRequest(
                    $"{ParameterNames.InOrder[slot]}: given both in json and as a plain parameter with different values; give it once.");
            }
            values[slot] = value;
        }
        return new RequestParameters(values);
    }

    /// <summary>The parameters inside <c>json</c>, by slot; their names in any case, as in the query string (<see cref="ParameterNames.Slots"/>).</summary>
    private static List<(int Slot, string Value)> ReadJsonObject(string text)
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            // The parser's own message can quote the input; only its position is passed on.
            throw ApiException.BadRequest(
                $"json: not valid JSON (at byte {e.BytePositionInLine ?? 0}); send one URL-encoded JSON object.");
        }

        using (document)
        {
            if (!JsonText.IsReadable(utf8))
            {
                throw ApiException.BadRequest("json: a name or string in it is not valid Unicode (an unpaired surrogate such as \\ud800).");
            }
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest(
                    $"json: must be a JSON object like {{\"schedule_id\":\"...\"}}, not a {Describe(document.RootElement.ValueKind)}.");
            }

            var found = new List<(int, string)>();
            var seen = new bool[ParameterNames.InOrder.Count];
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!ParameterNames.Slots.TryGetValue(property.Name, out var slot))
                {
                    continue; // Unknown fields are ignored, as the original API's clients send extra ones.
                }
                var name = ParameterNames.InOrder[slot];
                if (seen[slot])
                {
                    throw ApiException.BadRequest($"{name}: given more than once inside json.");
                }
                seen[slot] = true;
                var value = property.Value;
                switch (value.ValueKind)
                {
                    case JsonValueKind.Null:
                        break;
                    case JsonValueKind.String:
                        found.Add((slot, value.GetString()!));
                        break;
                    case JsonValueKind.Number:
                    case JsonValueKind.True:
                    case JsonValueKind.False:
                        found.Add((slot, value.GetRawText()));
                        break;
                    default:
                        throw ApiException.BadRequest(
                            $"{name}: must be a string or a number inside json, not a {Describe(value.ValueKind)}.");
                }
            }
            return found;
        }
    }

    /// <summary>
    /// The same text: a JSON number counts as its digits as written. No second reading of numbers: "+1", " 1" or "01"
    /// beside 1 is a different value, and so are IDs such as "0123" and "123".
    /// </summary>
    private static bool SameValue(string plain, string fromJson) => string.Equals(plain, fromJson, StringComparison.Ordinal);

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };
}
