using System.Buffers;
using System.Text.Json;

namespace QueryStatus.Worker;

/// <summary>JSON values (rows or sub-queries) kept as their UTF-8 bytes, back to back, written out unchanged.</summary>
internal sealed class JsonValueList
{
    private readonly ArrayBufferWriter<byte> _bytes = new();
    private readonly List<(int Start, int Length)> _items = [];

    public int Count => _items.Count;

    /// <summary>The bytes of the values plus the commas between them: what they take in a JSON array.</summary>
    public long ArrayBytes => _bytes.WrittenCount + Math.Max(0, _items.Count - 1);

    public void Add(ReadOnlySpan<byte> utf8Json)
    {
        _items.Add((_bytes.WrittenCount, utf8Json.Length));
        _bytes.Write(utf8Json);
    }

    public void Clear()
    {
        _items.Clear();
        _bytes.ResetWrittenCount();
    }

    /// <summary>Writes <c>"name": [value, ...]</c>, each value byte for byte.</summary>
    public void WriteArray(Utf8JsonWriter writer, string name)
    {
        writer.WriteStartArray(name);
        var written = _bytes.WrittenSpan;
        foreach (var (start, length) in _items)
        {
            writer.WriteRawValue(written.Slice(start, length), skipInputValidation: true);
        }
        writer.WriteEndArray();
    }

    /// <summary>Throws unless <paramref name="utf8Json"/> holds exactly one JSON value (whitespace around it allowed).</summary>
    public static void EnsureOneValue(ReadOnlySpan<byte> utf8Json, string paramName)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (reader.Read())
            {
                reader.Skip();
                if (!reader.Read())
                {
                    return;
                }
            }
        }
        catch (JsonException)
        {
            // Falls through to the message below.
        }
        throw new ArgumentException("Expected the UTF-8 bytes of exactly one JSON value.", paramName);
    }
}
