using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace CsvWorker;

/// <summary>A sub-query payload that breaks the format; the message says what to fix (it is shown to the query's owner).</summary>
public sealed class AdStatsQueryException(string message) : Exception(message);

/// <summary>
/// One sub-query over the ad statistics dataset, and the rows it matches. Payload (a JSON object):
/// <code>
/// {"date": "2026-03-01"}                                      one day, or
/// {"date_from": "2026-03-01", "date_to": "2026-03-31"}        a range, both ends included
///  "fields":  ["date", "campaign", "clicks"]                  optional: the row's members, in this order (default: every column)
///  "filters": {"country": "DE", "device": ["mobile", "tablet"]} optional: column = value, or one of the values (all must hold)
/// </code>
/// A matching row is a JSON object of the requested fields; <c>impressions</c>, <c>clicks</c> and <c>cost</c> are numbers,
/// the others strings. Rows come in the file's order (the generated file is sorted by date).
/// </summary>
public sealed class AdStatsQuery
{
    private static readonly HashSet<string> Members = ["date", "date_from", "date_to", "fields", "filters"];

    public AdStatsQuery(DateOnly dateFrom, DateOnly dateTo, IReadOnlyList<string>? fields = null, IReadOnlyDictionary<string, IReadOnlyList<string>>? filters = null)
    {
        if (dateTo < dateFrom)
        {
            throw new AdStatsQueryException("date_to: must not be before date_from.");
        }
        DateFrom = dateFrom;
        DateTo = dateTo;
        Fields = fields ?? AdStatsDataset.Columns;
        Filters = filters ?? new Dictionary<string, IReadOnlyList<string>>();
    }

    public DateOnly DateFrom { get; }

    public DateOnly DateTo { get; }

    public IReadOnlyList<string> Fields { get; }

    public IReadOnlyDictionary<string, IReadOnlyList<string>> Filters { get; }

    public int DayCount => DateTo.DayNumber - DateFrom.DayNumber + 1;

    /// <summary>Reads a payload; throws <see cref="AdStatsQueryException"/> naming what is wrong.</summary>
    public static AdStatsQuery Parse(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object)
        {
            throw new AdStatsQueryException("The sub-query must be a JSON object such as {\"date_from\":\"2026-03-01\",\"date_to\":\"2026-03-31\"}.");
        }
        foreach (var member in payload.EnumerateObject())
        {
            if (!Members.Contains(member.Name))
            {
                throw new AdStatsQueryException($"Unknown member '{member.Name}'; expected date or date_from/date_to, fields, filters.");
            }
        }

        DateOnly from, to;
        var hasDate = payload.TryGetProperty("date", out var date);
        var hasFrom = payload.TryGetProperty("date_from", out var dateFrom);
        var hasTo = payload.TryGetProperty("date_to", out var dateTo);
        if (hasDate && !hasFrom && !hasTo)
        {
            from = to = Date(date, "date");
        }
        else if (!hasDate && hasFrom && hasTo)
        {
            (from, to) = (Date(dateFrom, "date_from"), Date(dateTo, "date_to"));
        }
        else
        {
            throw new AdStatsQueryException("Give either date, or both date_from and date_to (yyyy-MM-dd).");
        }

        List<string>? fields = null;
        if (payload.TryGetProperty("fields", out var fieldsElement))
        {
            if (fieldsElement.ValueKind != JsonValueKind.Array || fieldsElement.GetArrayLength() == 0)
            {
                throw new AdStatsQueryException("fields: a non-empty array of column names.");
            }
            fields = [];
            foreach (var field in fieldsElement.EnumerateArray())
            {
                var name = Column(field, "fields");
                if (fields.Contains(name))
                {
                    throw new AdStatsQueryException($"fields: '{name}' appears twice.");
                }
                fields.Add(name);
            }
        }

        var filters = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (payload.TryGetProperty("filters", out var filtersElement))
        {
            if (filtersElement.ValueKind != JsonValueKind.Object)
            {
                throw new AdStatsQueryException("filters: an object of column: value or column: [values].");
            }
            foreach (var filter in filtersElement.EnumerateObject())
            {
                if (!AdStatsDataset.Columns.Contains(filter.Name))
                {
                    throw new AdStatsQueryException($"filters: unknown column '{filter.Name}'; columns: {string.Join(", ", AdStatsDataset.Columns)}.");
                }
                var values = filter.Value.ValueKind == JsonValueKind.Array ? [.. filter.Value.EnumerateArray()] : new List<JsonElement> { filter.Value };
                if (values.Count == 0 || values.Any(v => v.ValueKind != JsonValueKind.String))
                {
                    throw new AdStatsQueryException($"filters.{filter.Name}: a string or a non-empty array of strings.");
                }
                filters[filter.Name] = [.. values.Select(v => v.GetString()!)];
            }
        }

        if (to < from)
        {
            throw new AdStatsQueryException("date_to: must not be before date_from.");
        }
        return new AdStatsQuery(from, to, fields, filters);
    }

    /// <summary>The same query over consecutive ranges of at most <paramref name="maxDays"/> days (itself when it fits).</summary>
    public IReadOnlyList<AdStatsQuery> SplitByDays(int maxDays)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDays, 1);
        var parts = new List<AdStatsQuery>();
        for (var start = DateFrom; start <= DateTo; start = start.AddDays(maxDays))
        {
            var end = start.AddDays(maxDays - 1);
            parts.Add(new AdStatsQuery(start, end < DateTo ? end : DateTo, Fields, Filters));
        }
        return parts;
    }

    /// <summary>The query as a payload: date_from, date_to, fields, filters (when any).</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("date_from", Iso(DateFrom));
            writer.WriteString("date_to", Iso(DateTo));
            writer.WriteStartArray("fields");
            foreach (var field in Fields)
            {
                writer.WriteStringValue(field);
            }
            writer.WriteEndArray();
            if (Filters.Count > 0)
            {
                writer.WriteStartObject("filters");
                foreach (var (column, values) in Filters)
                {
                    writer.WriteStartArray(column);
                    foreach (var value in values)
                    {
                        writer.WriteStringValue(value);
                    }
                    writer.WriteEndArray();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Streams the CSV (header first) and yields each matching row as the UTF-8 bytes of its JSON object. Throws
    /// <see cref="InvalidDataException"/> when the file lacks a column or a line is malformed.
    /// </summary>
    public async IAsyncEnumerable<byte[]> ReadMatchingRowsAsync(TextReader csv, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var header = await csv.ReadLineAsync(cancellationToken) ?? throw new InvalidDataException("The dataset is empty: no header line.");
        var columns = CsvLine.Split(header);
        int IndexOf(string column) => columns.IndexOf(column) is var i and >= 0 ? i : throw new InvalidDataException($"The dataset has no column '{column}'.");
        var dateIndex = IndexOf("date");
        var fieldIndexes = Fields.Select(f => (Name: f, Index: IndexOf(f), Numeric: AdStatsDataset.NumericColumns.Contains(f))).ToArray();
        var filterIndexes = Filters.Select(f => (Index: IndexOf(f.Key), Values: f.Value.ToHashSet(StringComparer.Ordinal))).ToArray();
        var (from, to) = (Iso(DateFrom), Iso(DateTo));

        var buffer = new ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(buffer);
        var lineNumber = 1;
        while (await csv.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }
            var record = CsvLine.Split(line);
            if (record.Count != columns.Count)
            {
                throw new InvalidDataException($"Dataset line {lineNumber}: {record.Count} fields, the header has {columns.Count}.");
            }
            var day = record[dateIndex];
            if (string.CompareOrdinal(day, from) < 0 || string.CompareOrdinal(day, to) > 0
                || !filterIndexes.All(f => f.Values.Contains(record[f.Index])))
            {
                continue;
            }

            buffer.ResetWrittenCount();
            writer.Reset();
            writer.WriteStartObject();
            foreach (var (name, index, numeric) in fieldIndexes)
            {
                if (!numeric)
                {
                    writer.WriteString(name, record[index]);
                }
                else if (decimal.TryParse(record[index], NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                {
                    writer.WriteNumber(name, number);
                }
                else
                {
                    throw new InvalidDataException($"Dataset line {lineNumber}: {name} is not a number.");
                }
            }
            writer.WriteEndObject();
            writer.Flush();
            yield return buffer.WrittenSpan.ToArray();
        }
    }

    /// <summary>Every matching row of the file at <paramref name="path"/> as JSON text: what a worker sends for this query.</summary>
    public async Task<List<string>> ReadMatchingRowsAsync(string path, CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(path);
        var rows = new List<string>();
        await foreach (var row in ReadMatchingRowsAsync(reader, cancellationToken))
        {
            rows.Add(System.Text.Encoding.UTF8.GetString(row));
        }
        return rows;
    }

    private static DateOnly Date(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.String
        && DateOnly.TryParseExact(value.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date
            : throw new AdStatsQueryException($"{name}: a date as yyyy-MM-dd.");

    private static string Column(JsonElement value, string where) =>
        value.ValueKind == JsonValueKind.String && AdStatsDataset.Columns.Contains(value.GetString()!)
            ? value.GetString()!
            : throw new AdStatsQueryException($"{where}: column names among {string.Join(", ", AdStatsDataset.Columns)}.");

    private static string Iso(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

/// <summary>Splits one CSV line (RFC 4180: commas, fields in double quotes with "" for a quote; no line breaks inside fields).</summary>
public static class CsvLine
{
    public static List<string> Split(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"' && field.Length == 0)
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }
        fields.Add(field.ToString());
        return fields;
    }
}
