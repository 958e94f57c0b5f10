using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using QueryStatus.Api.Observability;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Parsing;

namespace QueryStatus.Api.Tests.Observability;

/// <summary>
/// The UTF-8 formatter stands in for Serilog.Formatting.Compact's CompactJsonFormatter in production: every event
/// must come out as the same JSON (same fields, same values) as the library writes it.
/// </summary>
public sealed class Utf8CompactJsonFormatterTests
{
    private static readonly MessageTemplateParser Parser = new();

    private enum Color { Red }

    private static LogEvent Event(string template, LogEventLevel level = LogEventLevel.Information, Exception? exception = null,
        ActivityTraceId? trace = null, ActivitySpanId? span = null, params (string Name, LogEventPropertyValue Value)[] properties) =>
        new(new DateTimeOffset(2026, 11, 29, 18, 4, 5, 123, TimeSpan.FromHours(2)).AddTicks(4567), level, exception,
            Parser.Parse(template), properties.Select(p => new LogEventProperty(p.Name, p.Value)), trace ?? default, span ?? default);

    private static (string Name, LogEventPropertyValue Value) P(string name, object? value) => (name, new ScalarValue(value));

    private static string Ours(LogEvent logEvent)
    {
        var bytes = new ArrayBufferWriter<byte>();
        new Utf8CompactJsonFormatter().Format(logEvent, bytes);
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    private static string Library(LogEvent logEvent)
    {
        var text = new StringWriter();
        new CompactJsonFormatter().Format(logEvent, text);
        return text.ToString();
    }

    private static void AssertSameJsonAsTheLibrary(LogEvent logEvent)
    {
        var ours = Ours(logEvent);
        var library = Library(logEvent);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(library), JsonNode.Parse(ours)), $"library: {library}\nours:    {ours}");
        Assert.EndsWith("}\n", ours);
        Assert.Single(ours.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void TheRequestLineIsTheSameJsonAsTheLibraryWrites() =>
        AssertSameJsonAsTheLibrary(Event(RequestIdMiddleware.MessageTemplateText, properties:
        [
            P("RequestMethod", "GET"), P("RequestPath", "/enterprise/v2/query/status"), P("StatusCode", 200),
            P("Elapsed", 0.123456789), P("RequestId", "abc_DEF-123"), P("LicenseId", "lic_1"),
            P("SourceContext", "QueryStatus.Api.Observability.RequestIdMiddleware"),
        ]));

    [Fact]
    public void EveryScalarTypeIsTheSameJsonAsTheLibraryWrites() =>
        AssertSameJsonAsTheLibrary(Event("scalars", properties:
        [
            P("Int", -42), P("Long", long.MinValue), P("UInt", uint.MaxValue), P("ULong", ulong.MaxValue), P("Short", (short)-7),
            P("UShort", (ushort)7), P("Byte", (byte)255), P("SByte", (sbyte)-128), P("Decimal", 12345.6789m),
            P("Double", 0.1), P("BigDouble", 1.7976931348623157E+308), P("NaN", double.NaN), P("Infinity", double.PositiveInfinity),
            P("MinusInfinity", double.NegativeInfinity), P("Float", 3.14f), P("FloatNaN", float.NaN), P("True", true),
            P("False", false), P("Char", 'x'), P("DateTime", new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc)),
            P("LocalishDate", new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Unspecified)),
            P("DateTimeOffset", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(-5))),
            P("TimeSpan", TimeSpan.FromMilliseconds(90061001)), P("Guid", Guid.Parse("7d6b1f52-3c1e-4d7f-9b1a-2f7f0e6c9a11")),
            P("Enum", Color.Red), P("Null", null), P("Uri", new Uri("https://example.com/a?b=c")),
            P("DateOnly", new DateOnly(2026, 1, 2)), P("TimeOnly", new TimeOnly(13, 14, 15, 123)),
        ]));

    [Fact]
    public void StringsNeedingEscapesAreTheSameJsonAsTheLibraryWrites() =>
        AssertSameJsonAsTheLibrary(Event("A \"quoted\" \\ template {Text}", properties:
        [
            P("Text", "quote \" backslash \\ newline \n return \r tab \t bell \u0007 nul \0 slash / html <b>&amp;</b> 'single'"),
            P("Unicode", "café ✓ 日本 😀 \u2028 \u00a0"),
            P("Empty", ""),
        ]));

    [Fact]
    public void StructuresSequencesAndDictionariesAreTheSameJsonAsTheLibraryWrites() =>
        AssertSameJsonAsTheLibrary(Event("{@User} {Tags} {Map}", properties:
        [
            ("User", new StructureValue([new LogEventProperty("Name", new ScalarValue("nb")), new LogEventProperty("Id", new ScalarValue(101)),
                new LogEventProperty("Inner", new StructureValue([new LogEventProperty("Deep", new SequenceValue([new ScalarValue(1)]))]))], "User")),
            ("Untagged", new StructureValue([new LogEventProperty("A", new ScalarValue(null))])),
            ("Tags", new SequenceValue([new ScalarValue("a"), new ScalarValue(2), new SequenceValue([]), new ScalarValue(null)])),
            ("Map", new DictionaryValue([
                new KeyValuePair<ScalarValue, LogEventPropertyValue>(new ScalarValue(1), new ScalarValue("one")),
                new KeyValuePair<ScalarValue, LogEventPropertyValue>(new ScalarValue(null), new ScalarValue(true)),
                new KeyValuePair<ScalarValue, LogEventPropertyValue>(new ScalarValue("k\"ey"), new SequenceValue([])),
            ])),
        ]));

    [Fact]
    public void FormattedTokensAreRenderedTheSameAsTheLibraryRendersThem() =>
        AssertSameJsonAsTheLibrary(Event("{Elapsed:0.0000} {Count,6:000} {Hex:x8} {When:yyyy-MM-dd} {Name:l} {Missing:000} {Money:C} {Elapsed:0.0}",
            properties: [P("Elapsed", 12.3456789), P("Count", 7), P("Hex", 255), P("When", new DateTime(2026, 11, 29)), P("Name", "n\"a"), P("Money", 1234.5m)]));

    [Fact]
    public void LevelExceptionTraceAndSpanAreTheSameJsonAsTheLibraryWrites()
    {
        Exception thrown;
        try
        {
            throw new InvalidOperationException("it broke \"badly\"\non two lines");
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }
        foreach (var level in Enum.GetValues<LogEventLevel>())
        {
            AssertSameJsonAsTheLibrary(Event("failed", level, thrown, ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom()));
        }
    }

    [Fact]
    public void PropertiesNamedLikeReservedFieldsAreEscapedAsTheLibraryEscapesThem() =>
        AssertSameJsonAsTheLibrary(Event("{@t}", properties: [P("@t", "not the timestamp"), P("@@x", 1)]));

    [Fact]
    public void ManyPropertyNamesEachWrittenAsTheLibraryWritesThem()
    {
        // More names than the formatter keeps per thread, some needing escapes, built at run
        // time (new strings each event): the same names in every event however the table fills and empties.
        LogEvent Many() => Event("many", properties: [.. Enumerable.Range(0, 300)
            .Select(i => P(string.Concat(i % 3 == 0 ? "quote\"" : i % 3 == 1 ? "é" : "n", i.ToString(CultureInfo.InvariantCulture)), i))]);

        AssertSameJsonAsTheLibrary(Many());
        AssertSameJsonAsTheLibrary(Many());
    }

    [Fact]
    public void NamesSeenBeforeAreWrittenAsTheFirstTime()
    {
        // The same name objects (literals) in every event: from the second event on they come from the table.
        LogEvent Same() => Event("same", properties: [P("@odd", 1), P("quote\"d", 2), P("é", 3), P("Plain", 4)]);

        for (var i = 0; i < 3; i++)
        {
            AssertSameJsonAsTheLibrary(Same());
        }
    }

    [Fact]
    public void AnEventWithManyNamesFormattedWhileFormattingAnotherLeavesTheOuterLineWhole()
    {
        // The nested event fills and empties the thread's name table while the outer one is half written.
        var inner = new ArrayBufferWriter<byte>();
        var innerEvent = Event("inner", properties: [.. Enumerable.Range(0, 300)
            .Select(i => P(string.Concat("n", i.ToString(CultureInfo.InvariantCulture)), i))]);
        LogEvent Outer() => Event("outer {Before} {Chatty} {After}", properties:
            [P("Before", 1), P("@odd", 2), P("Chatty", new ChattyValue(() => new Utf8CompactJsonFormatter().Format(innerEvent, inner))), P("After", "still here")]);

        var first = JsonNode.Parse(Ours(Outer()))!;
        var second = JsonNode.Parse(Ours(Outer()))!;

        Assert.True(JsonNode.DeepEquals(first, second));
        Assert.Equal(2, first["@@odd"]!.GetValue<int>());
        Assert.Equal("still here", first["After"]!.GetValue<string>());
        Assert.Equal(299, JsonNode.Parse(Encoding.UTF8.GetString(inner.WrittenSpan).Split('\n')[0])!["n299"]!.GetValue<int>());
    }

    [Fact]
    public void PropertyNameThatIsNotValidUtf16StillMakesOneJsonLine()
    {
        var line = Ours(Event("{Fine}", properties: [P("Fine", 1), P("lone\ud800", 2)]));

        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(1, JsonNode.Parse(line)!["Fine"]!.GetValue<int>());
    }

    [Fact]
    public void TextThatIsNotValidUtf16StillMakesOneJsonLine()
    {
        var line = Ours(Event("{Broken}", properties: [P("Broken", "lone \ud800 surrogate")]));

        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var json = JsonNode.Parse(line)!;
        Assert.StartsWith("lone ", json["Broken"]!.GetValue<string>());
    }

    [Fact]
    public void AnEventFormattedWhileFormattingAnotherLeavesBothLinesWhole()
    {
        var inner = new ArrayBufferWriter<byte>();
        var logEvent = Event("outer {Chatty} {After}", properties:
            [P("Chatty", new ChattyValue(() => new Utf8CompactJsonFormatter().Format(Event("inner {X}", properties: [P("X", 1)]), inner))), P("After", "still here")]);

        var outer = JsonNode.Parse(Ours(logEvent))!;

        Assert.Equal("chatty value", outer["Chatty"]!.GetValue<string>());
        Assert.Equal("still here", outer["After"]!.GetValue<string>());
        Assert.Equal("inner {X}", JsonNode.Parse(Encoding.UTF8.GetString(inner.WrittenSpan))!["@mt"]!.GetValue<string>());
    }

    [Fact]
    public void AsATextFormatterItWritesTheSameLine()
    {
        var logEvent = Event("Hello {Name}", properties: [P("Name", "wörld")]);
        var text = new StringWriter();

        ((ITextFormatter)new Utf8CompactJsonFormatter()).Format(logEvent, text);

        Assert.Equal(Ours(logEvent), text.ToString());
    }
}
