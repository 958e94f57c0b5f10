using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Parsing;

namespace QueryStatus.Api.Observability;

/// <summary>
/// Compact log event format (CLEF): JSON equal, once parsed, to what Serilog.Formatting.Compact's
/// <see cref="CompactJsonFormatter"/> writes (<c>@t</c>, <c>@mt</c>, <c>@r</c>, <c>@l</c>, <c>@x</c>, <c>@tr</c>,
/// <c>@sp</c>, then the properties, every value of the same JSON type and text), written
/// straight to UTF-8 with <see cref="Utf8JsonWriter"/>. <see cref="CompactJsonFormatter"/> escapes every string
/// char by char into a <see cref="TextWriter"/> that then transcodes it; at one request line per poll that was
/// a sixth of a status poll's server CPU (bench/RESULTS.md). Message templates, which repeat, are escaped once.
/// </summary>
/// <remarks>
/// <see cref="BufferedConsoleSink"/> takes the UTF-8 path (<see cref="Format(LogEvent, IBufferWriter{byte})"/>);
/// any other sink gets the text through <see cref="ITextFormatter"/>. Should writing an event fail (text that is
/// not valid UTF-16, say), the event is written by <see cref="CompactJsonFormatter"/> instead: a log line is
/// never lost to this formatter. Text is escaped by <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/>: most
/// non-ASCII text is written as is, as Serilog does, but characters outside the Basic Multilingual Plane (emoji),
/// U+2028/U+2029, DEL and C1 controls are written as <c>\u</c> escapes where the library writes them raw, and
/// a lone surrogate as U+FFFD. A JSON reader sees the same string; a byte-for-byte grep may not.
/// </remarks>
public sealed class Utf8CompactJsonFormatter : ITextFormatter
{
    private const string TypeTagName = "$type";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("@t");
    private static readonly JsonEncodedText Template = JsonEncodedText.Encode("@mt");
    private static readonly JsonEncodedText Renderings = JsonEncodedText.Encode("@r");
    private static readonly JsonEncodedText Level = JsonEncodedText.Encode("@l");
    private static readonly JsonEncodedText Exception = JsonEncodedText.Encode("@x");
    private static readonly JsonEncodedText TraceId = JsonEncodedText.Encode("@tr");
    private static readonly JsonEncodedText SpanId = JsonEncodedText.Encode("@sp");
    private static readonly JsonEncodedText TypeTag = JsonEncodedText.Encode(TypeTagName);

    private static readonly CompactJsonFormatter Fallback = new();

    // Per template (Serilog caches parsed templates, so one object per distinct text): the escaped text and the
    // tokens that carry a format, which CLEF renders into @r.
    private static readonly ConditionalWeakTable<MessageTemplate, TemplateInfo> Templates = [];

    private sealed record TemplateInfo(JsonEncodedText Text, PropertyToken[] Formatted);

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_text;

    /// <summary>Writes the event as one JSON object followed by a newline.</summary>
    public void Format(LogEvent logEvent, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        // Taken from the thread while in use: a value's ToString may itself log, and the nested event must not
        // write into this one's buffer.
        var scratch = t_text ?? new ArrayBufferWriter<byte>(1024);
        var json = t_writer ?? new Utf8JsonWriter(scratch, WriterOptions);
        t_text = null;
        t_writer = null;
        scratch.ResetWrittenCount();
        json.Reset(scratch);
        try
        {
            WriteEvent(json, logEvent);
            json.Flush();
            output.Write(scratch.WrittenSpan);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            json.Reset(scratch);
            var text = new StringWriter(CultureInfo.InvariantCulture);
            Fallback.Format(logEvent, text);
            output.Write(Encoding.UTF8.GetBytes(text.ToString().TrimEnd('\r', '\n')));
        }
        finally
        {
            // A large one-off event (a long exception) should not pin a large buffer to its thread.
            if (scratch.Capacity <= MaxKeptBufferBytes)
            {
                t_text = scratch;
                t_writer = json;
            }
        }
        output.Write("\n"u8);
    }

    /// <summary>The largest per-thread buffer kept between events.</summary>
    public const int MaxKeptBufferBytes = 64 * 1024;

    /// <summary>The same line, ended by the writer's own newline (as the library's formatter ends it).</summary>
    void ITextFormatter.Format(LogEvent logEvent, TextWriter output)
    {
        var bytes = new ArrayBufferWriter<byte>(512);
        Format(logEvent, bytes);
        output.WriteLine(Encoding.UTF8.GetString(bytes.WrittenSpan[..^1]));
    }

    private static void WriteEvent(Utf8JsonWriter json, LogEvent logEvent)
    {
        json.WriteStartObject();

        Span<byte> stamp = stackalloc byte[40];
        logEvent.Timestamp.UtcDateTime.TryFormat(stamp, out var stampLength, "O", CultureInfo.InvariantCulture);
        json.WriteString(Timestamp, stamp[..stampLength]);

        var template = Templates.GetValue(logEvent.MessageTemplate, static t => new TemplateInfo(
            JsonEncodedText.Encode(t.Text, JavaScriptEncoder.UnsafeRelaxedJsonEscaping),
            [.. t.Tokens.OfType<PropertyToken>().Where(p => p.Format is not null)]));
        json.WriteString(Template, template.Text);

        if (template.Formatted.Length > 0)
        {
            json.WriteStartArray(Renderings);
            foreach (var token in template.Formatted)
            {
                WriteRendering(json, token, logEvent.Properties);
            }
            json.WriteEndArray();
        }

        if (logEvent.Level != LogEventLevel.Information)
        {
            json.WriteString(Level, LevelNames[(int)logEvent.Level]);
        }
        if (logEvent.Exception is { } exception)
        {
            json.WriteString(Exception, exception.ToString());
        }
        if (logEvent.TraceId is { } traceId)
        {
            json.WriteString(TraceId, traceId.ToHexString());
        }
        if (logEvent.SpanId is { } spanId)
        {
            json.WriteString(SpanId, spanId.ToHexString());
        }

        // Serilog keeps an event's properties in a Dictionary: enumerated as one, without boxing an enumerator.
        if (logEvent.Properties is Dictionary<string, LogEventPropertyValue> properties)
        {
            foreach (var (name, value) in properties)
            {
                WriteProperty(json, name, value);
            }
        }
        else
        {
            foreach (var (name, value) in logEvent.Properties)
            {
                WriteProperty(json, name, value);
            }
        }
        json.WriteEndObject();
    }

    private static void WriteProperty(Utf8JsonWriter json, string name, LogEventPropertyValue value)
    {
        json.WritePropertyName(PropertyName(name));
        WriteValue(json, value);
    }

    private const int MaxKeptNames = 256;

    // Property names, escaped, per thread, keyed by the name string's identity: the same few names (literals,
    // names parsed once per template) come with every event, so each is escaped once rather than per event.
    // Names that are new strings every time would only fill the table: it is emptied when it reaches its cap.
    [ThreadStatic]
    private static Dictionary<string, JsonEncodedText>? t_names;

    private static JsonEncodedText PropertyName(string name)
    {
        var names = t_names ??= new Dictionary<string, JsonEncodedText>(ReferenceEqualityComparer.Instance);
        if (names.TryGetValue(name, out var encoded))
        {
            return encoded;
        }
        // "@@name": CLEF's escape for a property named like a reserved field.
        encoded = JsonEncodedText.Encode(name.StartsWith('@') ? "@" + name : name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        if (names.Count == MaxKeptNames)
        {
            names.Clear();
        }
        names[name] = encoded;
        return encoded;
    }

    private static readonly JsonEncodedText[] LevelNames =
        [.. Enum.GetValues<LogEventLevel>().Select(level => JsonEncodedText.Encode(level.ToString()))];

    /// <summary>
    /// A formatted token as Serilog renders it (invariant culture): numbers and dates straight to UTF-8, anything
    /// else (alignment, strings, structures) through the token's own rendering.
    /// </summary>
    private static void WriteRendering(Utf8JsonWriter json, PropertyToken token, IReadOnlyDictionary<string, LogEventPropertyValue> properties)
    {
        if (token.Alignment is null
            && properties.TryGetValue(token.PropertyName, out var value)
            && value is ScalarValue { Value: IUtf8SpanFormattable formattable })
        {
            Span<byte> rendered = stackalloc byte[64];
            if (formattable.TryFormat(rendered, out var length, token.Format, CultureInfo.InvariantCulture))
            {
                json.WriteStringValue(rendered[..length]);
                return;
            }
        }
        var text = new StringWriter(CultureInfo.InvariantCulture);
        token.Render(properties, text);
        json.WriteStringValue(text.ToString());
    }

    private static void WriteValue(Utf8JsonWriter json, LogEventPropertyValue value)
    {
        switch (value)
        {
            case ScalarValue scalar:
                WriteScalar(json, scalar.Value);
                break;
            case SequenceValue sequence:
                json.WriteStartArray();
                foreach (var element in sequence.Elements)
                {
                    WriteValue(json, element);
                }
                json.WriteEndArray();
                break;
            case StructureValue structure:
                json.WriteStartObject();
                foreach (var property in structure.Properties)
                {
                    json.WritePropertyName(property.Name);
                    WriteValue(json, property.Value);
                }
                if (structure.TypeTag is { } tag)
                {
                    json.WriteString(TypeTag, tag);
                }
                json.WriteEndObject();
                break;
            case DictionaryValue dictionary:
                json.WriteStartObject();
                foreach (var (key, element) in dictionary.Elements)
                {
                    json.WritePropertyName((key.Value ?? "null").ToString() ?? "");
                    WriteValue(json, element);
                }
                json.WriteEndObject();
                break;
            default:
                json.WriteStringValue(value.ToString());
                break;
        }
    }

    /// <summary>As Serilog's JsonValueFormatter writes scalars: numbers as numbers, dates and times in ISO 8601, the rest as text.</summary>
    private static void WriteScalar(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case string text:
                json.WriteStringValue(text);
                break;
            case int or long or short or sbyte or byte or ushort or uint:
                json.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong number:
                json.WriteNumberValue(number);
                break;
            case decimal number:
                json.WriteNumberValue(number);
                break;
            case double number:
                if (double.IsFinite(number))
                {
                    json.WriteNumberValue(number);
                }
                else
                {
                    json.WriteStringValue(number.ToString(CultureInfo.InvariantCulture));
                }
                break;
            case float number:
                if (float.IsFinite(number))
                {
                    json.WriteNumberValue(number);
                }
                else
                {
                    json.WriteStringValue(number.ToString(CultureInfo.InvariantCulture));
                }
                break;
            case bool flag:
                json.WriteBooleanValue(flag);
                break;
            case DateTime or DateTimeOffset or TimeOnly:
                Span<byte> date = stackalloc byte[40];
                ((IUtf8SpanFormattable)value).TryFormat(date, out var length, "O", CultureInfo.InvariantCulture);
                json.WriteStringValue(date[..length]);
                break;
            case DateOnly day:
                Span<byte> dayText = stackalloc byte[16];
                day.TryFormat(dayText, out var dayLength, "yyyy-MM-dd", CultureInfo.InvariantCulture);
                json.WriteStringValue(dayText[..dayLength]);
                break;
            default:
                json.WriteStringValue(value.ToString());
                break;
        }
    }
}
