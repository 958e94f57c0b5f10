using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace QueryStatus.Api.Tests.OpenApi;

/// <summary>
/// Finds every example in an OpenAPI 3.0 document (of a parameter, header or media type: <c>example</c> and
/// <c>examples</c>; of a schema: <c>example</c> and <c>default</c>) and checks it against its schema: type, nullable,
/// format (int32, int64, date-time, date), enum, bounds, lengths, pattern, properties, required,
/// additionalProperties, items, allOf / anyOf / oneOf, with <c>$ref</c>s resolved in the document. What it returns
/// are the mismatches, one line each with where it was found; none means every example fits.
/// </summary>
public static class ExampleChecker
{
    public static IReadOnlyList<string> Check(JsonElement document)
    {
        var problems = new List<string>();
        Walk(document, document, "#", problems);
        return problems;
    }

    private static void Walk(JsonElement document, JsonElement node, string path, List<string> problems)
    {
        if (node.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in node.EnumerateArray())
            {
                Walk(document, item, $"{path}/{i++}", problems);
            }
            return;
        }
        if (node.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        // A parameter, header or media type: its examples against its schema.
        if (node.TryGetProperty("schema", out var schema))
        {
            if (node.TryGetProperty("example", out var example))
            {
                Validate(document, example, schema, $"{path}/example", problems);
            }
            if (node.TryGetProperty("examples", out var examples) && examples.ValueKind == JsonValueKind.Object)
            {
                foreach (var named in examples.EnumerateObject())
                {
                    if (Resolve(document, named.Value).TryGetProperty("value", out var value))
                    {
                        Validate(document, value, schema, $"{path}/examples/{named.Name}/value", problems);
                    }
                }
            }
        }

        // A schema: its own example and default against itself.
        if (LooksLikeSchema(path))
        {
            foreach (var key in new[] { "example", "default" })
            {
                if (node.TryGetProperty(key, out var value))
                {
                    Validate(document, value, node, $"{path}/{key}", problems);
                }
            }
        }

        foreach (var property in node.EnumerateObject())
        {
            // An example is data: a key named "schema" inside it is not a schema (but a property may be named "example").
            if (path.EndsWith("/properties", StringComparison.Ordinal) || property.Name is not ("example" or "examples" or "default" or "enum"))
            {
                Walk(document, property.Value, $"{path}/{property.Name.Replace("~", "~0").Replace("/", "~1")}", problems);
            }
        }
    }

    private static bool LooksLikeSchema(string path)
    {
        var segments = path.Split('/');
        var last = segments[^1];
        var parent = segments.Length > 1 ? segments[^2] : "";
        return last is "schema" or "items" or "additionalProperties" or "not"
            || parent is "schemas" or "properties" or "allOf" or "anyOf" or "oneOf";
    }

    private static JsonElement Resolve(JsonElement document, JsonElement node)
    {
        for (var hops = 0; node.ValueKind == JsonValueKind.Object && node.TryGetProperty("$ref", out var reference); hops++)
        {
            var target = reference.GetString() ?? "";
            if (hops > 20 || !target.StartsWith("#/", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Cannot resolve $ref {target}.");
            }
            node = document;
            foreach (var segment in target[2..].Split('/'))
            {
                var name = Uri.UnescapeDataString(segment).Replace("~1", "/").Replace("~0", "~");
                if (!node.TryGetProperty(name, out node))
                {
                    throw new InvalidOperationException($"$ref {target} points nowhere.");
                }
            }
        }
        return node;
    }

    /// <summary>Checks <paramref name="value"/> against <paramref name="schema"/>, adding a line per mismatch.</summary>
    public static void Validate(JsonElement document, JsonElement value, JsonElement schema, string path, List<string> problems)
    {
        schema = Resolve(document, schema);
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return; // true / false schemas do not occur in 3.0; {} allows anything.
        }

        foreach (var part in Items(schema, "allOf"))
        {
            Validate(document, value, part, path, problems);
        }
        foreach (var keyword in new[] { "anyOf", "oneOf" })
        {
            var options = Items(schema, keyword).ToList();
            if (options.Count > 0 && !options.Any(option => Fits(document, value, option)))
            {
                problems.Add($"{path}: {Show(value)} fits none of {keyword}");
            }
        }

        var types = Types(schema);
        if (value.ValueKind == JsonValueKind.Null)
        {
            var nullable = schema.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True;
            if (types.Count > 0 && !types.Contains("null") && !nullable)
            {
                problems.Add($"{path}: null, but the schema is {string.Join("|", types)} and not nullable");
            }
            return;
        }
        if (types.Count > 0 && !types.Any(t => IsOfType(value, t)))
        {
            problems.Add($"{path}: {Show(value)} is not {string.Join("|", types)}");
            return;
        }

        if (schema.TryGetProperty("enum", out var allowed) && allowed.ValueKind == JsonValueKind.Array
            && !allowed.EnumerateArray().Any(a => JsonElement.DeepEquals(a, value)))
        {
            problems.Add($"{path}: {Show(value)} is not one of the enum values");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Number:
                CheckNumber(value, schema, path, problems);
                break;
            case JsonValueKind.String:
                CheckString(value.GetString()!, schema, path, problems);
                break;
            case JsonValueKind.Array:
                if (schema.TryGetProperty("items", out var items))
                {
                    var i = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        Validate(document, item, items, $"{path}/{i++}", problems);
                    }
                }
                break;
            case JsonValueKind.Object:
                CheckObject(document, value, schema, path, problems);
                break;
        }
    }

    private static bool Fits(JsonElement document, JsonElement value, JsonElement schema)
    {
        var problems = new List<string>();
        Validate(document, value, schema, "", problems);
        return problems.Count == 0;
    }

    private static IEnumerable<JsonElement> Items(JsonElement schema, string keyword) =>
        schema.TryGetProperty(keyword, out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray() : [];

    /// <summary>3.0's one <c>type</c>, or 3.1's list of them.</summary>
    private static List<string> Types(JsonElement schema) =>
        !schema.TryGetProperty("type", out var type) ? []
        : type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray().Select(t => t.GetString()!)]
        : [type.GetString()!];

    private static bool IsOfType(JsonElement value, string type) => type switch
    {
        "integer" => value.ValueKind == JsonValueKind.Number && decimal.TryParse(value.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == decimal.Truncate(d),
        "number" => value.ValueKind == JsonValueKind.Number,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "array" => value.ValueKind == JsonValueKind.Array,
        "object" => value.ValueKind == JsonValueKind.Object,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => false,
    };

    private static void CheckNumber(JsonElement value, JsonElement schema, string path, List<string> problems)
    {
        var number = decimal.Parse(value.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture);
        var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
        if ((format == "int32" && (number < int.MinValue || number > int.MaxValue))
            || (format == "int64" && (number < long.MinValue || number > long.MaxValue)))
        {
            problems.Add($"{path}: {number} is out of {format} range");
        }
        if (schema.TryGetProperty("minimum", out var min) && number < min.GetDecimal())
        {
            problems.Add($"{path}: {number} is below the minimum {min}");
        }
        if (schema.TryGetProperty("maximum", out var max) && number > max.GetDecimal())
        {
            problems.Add($"{path}: {number} is above the maximum {max}");
        }
    }

    private static void CheckString(string text, JsonElement schema, string path, List<string> problems)
    {
        var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
        var formatOk = format switch
        {
            "date-time" => DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"], CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
            "date" => DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
            "int32" => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _),
            "int64" => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _),
            _ => true,
        };
        if (!formatOk)
        {
            problems.Add($"{path}: \"{text}\" is not a {format}");
        }
        if (schema.TryGetProperty("minLength", out var minLength) && text.Length < minLength.GetInt32())
        {
            problems.Add($"{path}: \"{text}\" is shorter than {minLength}");
        }
        if (schema.TryGetProperty("maxLength", out var maxLength) && text.Length > maxLength.GetInt32())
        {
            problems.Add($"{path}: \"{text}\" is longer than {maxLength}");
        }
        if (schema.TryGetProperty("pattern", out var pattern) && !Regex.IsMatch(text, pattern.GetString()!))
        {
            problems.Add($"{path}: \"{text}\" does not match {pattern}");
        }
    }

    private static void CheckObject(JsonElement document, JsonElement value, JsonElement schema, string path, List<string> problems)
    {
        var properties = schema.TryGetProperty("properties", out var p) ? p : default;
        foreach (var required in Items(schema, "required"))
        {
            if (!value.TryGetProperty(required.GetString()!, out _))
            {
                problems.Add($"{path}: the required property {required} is missing");
            }
        }
        foreach (var member in value.EnumerateObject())
        {
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(member.Name, out var propertySchema))
            {
                Validate(document, member.Value, propertySchema, $"{path}/{member.Name}", problems);
            }
            else if (schema.TryGetProperty("additionalProperties", out var additional))
            {
                if (additional.ValueKind == JsonValueKind.False)
                {
                    problems.Add($"{path}: {member.Name} is not a property of the schema (additionalProperties: false)");
                }
                else if (additional.ValueKind == JsonValueKind.Object)
                {
                    Validate(document, member.Value, additional, $"{path}/{member.Name}", problems);
                }
            }
        }
    }

    private static string Show(JsonElement value)
    {
        var raw = value.GetRawText();
        return raw.Length <= 60 ? raw : raw[..57] + "...";
    }
}
