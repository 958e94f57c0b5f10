using System.Buffers;
using System.Text;
using System.Text.Json;

namespace QueryStatus.Cli;

/// <summary>Writes a result's rows, one at a time as they arrive, in one output format.</summary>
internal interface IRowWriter
{
    void Write(ReadOnlySpan<byte> row);

    void Flush();
}

/// <summary>
/// JSON Lines: each row byte for byte as the service returned it, then <c>\n</c>. A row can hold a line break only as
/// whitespace between tokens (JSON strings cannot contain one); each such CR or LF is written as a space, so that a
/// row is always one line.
/// </summary>
internal sealed class JsonLinesRowWriter(Stream output) : IRowWriter
{
    public void Write(ReadOnlySpan<byte> row)
    {
        if (row.IndexOfAny((byte)'\r', (byte)'\n') < 0)
        {
            output.Write(row);
        }
        else
        {
            var copy = ArrayPool<byte>.Shared.Rent(row.Length);
            try
            {
                row.CopyTo(copy);
                var span = copy.AsSpan(0, row.Length);
                span.Replace((byte)'\r', (byte)' ');
                span.Replace((byte)'\n', (byte)' ');
                output.Write(span);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }
        output.WriteByte((byte)'\n');
    }

    public void Flush() => output.Flush();
}

/// <summary>
/// CSV (RFC 4180, UTF-8, CRLF line ends). The header is the first row's keys, in their order; each row then gives one
/// field per header key: a string as its text, a number as written, <c>true</c>/<c>false</c>, an object or array as its
/// JSON text; null and a missing key give an empty field, an empty string gives <c>""</c>. Keys the first row did not
/// have are left out, with one warning per key. Every row must be a JSON object. Fields holding a comma, a quote, CR or
/// LF are quoted, quotes doubled.
/// </summary>
internal sealed class CsvRowWriter(Stream output, Action<string> warn) : IRowWriter
{
    private readonly StreamWriter _writer = new(output, new UTF8Encoding(false), bufferSize: 1 << 16, leaveOpen: true) { NewLine = "\r\n" };
    private Dictionary<string, int>? _columns;
    private string?[] _fields = [];
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private long _rowNumber;

    public void Write(ReadOnlySpan<byte> row)
    {
        _rowNumber++;
        var reader = new Utf8JsonReader(row);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new UsageException(
                $"row {_rowNumber} is {Article(root.ValueKind)}, not an object: CSV needs every row to be a JSON object (use --format jsonl).");
        }

        if (_columns is null)
        {
            _columns = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                _columns.TryAdd(property.Name, _columns.Count);
            }
            _fields = new string?[_columns.Count];
            WriteLine(_columns.Keys);
        }

        Array.Clear(_fields);
        foreach (var property in root.EnumerateObject())
        {
            if (!_columns.TryGetValue(property.Name, out var column))
            {
                if (_warned.Add(property.Name))
                {
                    warn($"row {_rowNumber} has key '{property.Name}', which the first row (the header) does not: its values are left out of the CSV.");
                }
                continue;
            }
            // A key given twice in one row: the first one counts, as for the header.
            _fields[column] ??= Field(property.Value);
        }
        WriteLine(_fields);
    }

    public void Flush() => _writer.Flush();

    private void WriteLine(IEnumerable<string?> fields)
    {
        var first = true;
        foreach (var field in fields)
        {
            if (!first)
            {
                _writer.Write(',');
            }
            first = false;
            WriteField(field);
        }
        _writer.WriteLine();
    }

    /// <summary>A field's text; null for an empty field (JSON null), "" for an empty string (written as <c>""</c>).</summary>
    private static string? Field(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => StringValue(value),
        JsonValueKind.Null => null,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => value.GetRawText(), // numbers as written; objects and arrays as their JSON text
    };

    private static string StringValue(JsonElement value)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // Not valid UTF-16 once unescaped (a lone surrogate "\ud800"): the JSON text keeps it intact.
            return value.GetRawText();
        }
    }

    private void WriteField(string? field)
    {
        if (field is null)
        {
            return;
        }
        if (field.Length == 0)
        {
            _writer.Write("\"\"");
            return;
        }
        if (field.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            _writer.Write(field);
            return;
        }
        _writer.Write('"');
        _writer.Write(field.Replace("\"", "\"\"", StringComparison.Ordinal));
        _writer.Write('"');
    }

    private static string Article(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
