using System.Runtime.InteropServices;
using System.Text.Json;
using QueryStatus.Api.Http;

namespace QueryStatus.Api.Store;

/// <summary>
/// Reads the <c>Store:SeedFile</c> document (<c>{"schedules":[...]}</c>, shape in the README) into
/// schedule records. Rows keep the exact bytes they have in the file. Any problem is reported with
/// the entry it is in, and stops start-up.
/// </summary>
public static class SeedFile
{
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    public static IReadOnlyList<ScheduleRecord> Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SeedFileException($"Store:SeedFile '{path}' cannot be read: {e.Message}");
        }

        JsonDocument document;
        try
        {
            // Editors on Windows save a byte-order mark; it is not JSON, but it is not the user's mistake either.
            var json = bytes.AsMemory();
            if (json.Span.StartsWith(Utf8Bom))
            {
                json = json[Utf8Bom.Length..];
            }
            // The serializer's depth limit (64): a row may be no deeper than one a worker can send, and every reader
            // of stored rows (pretty output re-parses them) can read it.
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new SeedFileException(
                $"Store:SeedFile '{path}' is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("schedules", out var schedules)
                || schedules.ValueKind != JsonValueKind.Array)
            {
                throw new SeedFileException($"Store:SeedFile '{path}' must be an object with a \"schedules\" array.");
            }

            var records = new List<ScheduleRecord>();
            var seen = new HashSet<(string, string)>();
            var index = 0;
            foreach (var entry in schedules.EnumerateArray())
            {
                var where = $"Store:SeedFile '{path}', schedules[{index}]";
                var record = ReadEntry(entry, where);
                where += $" (schedule_id '{record.ScheduleId}')";
                var problems = record.Validate().ToList();
                if (problems.Count > 0)
                {
                    throw new SeedFileException($"{where}: {string.Join("; ", problems)}.");
                }
                if (!seen.Add((record.LicenseId, record.ScheduleId)))
                {
                    throw new SeedFileException($"{where}: license '{record.LicenseId}' already has a schedule with this ID.");
                }
                records.Add(record);
                index++;
            }
            return records;
        }
    }

    private static ScheduleRecord ReadEntry(JsonElement entry, string where)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new SeedFileException($"{where}: each schedule must be a JSON object.");
        }

        var scheduleId = RequiredString(entry, "schedule_id", where);
        var licenseId = RequiredString(entry, "license_id", where);
        var statusText = RequiredString(entry, "status_code", where);
        if (!ScheduleStatusNames.TryParse(statusText, out var status))
        {
            throw new SeedFileException(
                $"{where}: status_code '{statusText}' is not one of SCHEDULED, QUEUED, RUNNING, SUCCESS, FAILURE, STOPPED.");
        }

        var subQueries = new List<SubQueryState>();
        if (Optional(entry, "subqueries") is { } list)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                throw new SeedFileException($"{where}: subqueries must be an array of QUEUED, RUNNING or DONE.");
            }
            foreach (var item in list.EnumerateArray())
            {
                var text = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
                if (!ScheduleStatusNames.TryParseSubQuery(text, out var state))
                {
                    throw new SeedFileException($"{where}: subqueries entries must be QUEUED, RUNNING or DONE, not {item.GetRawText()}.");
                }
                subQueries.Add(state);
            }
        }

        var rows = new RowBuffer();
        if (Optional(entry, "data") is { } data)
        {
            if (data.ValueKind != JsonValueKind.Array)
            {
                throw new SeedFileException($"{where}: data must be an array of rows.");
            }
            var i = 0;
            foreach (var row in data.EnumerateArray())
            {
                var raw = JsonMarshal.GetRawUtf8Value(row);
                // The rule rows from workers follow (RawJsonConverter): a row is readable text wherever it came from.
                if (!JsonText.IsReadable(raw))
                {
                    throw new SeedFileException($"{where}: data[{i}] is not valid Unicode text; a row must be {JsonText.Rule}.");
                }
                rows.Append(raw);
                i++;
            }
        }

        Failure? failure = null;
        if (Optional(entry, "failure") is { } failureElement)
        {
            if (failureElement.ValueKind != JsonValueKind.Object)
            {
                throw new SeedFileException($"{where}: failure must be null or {{\"code\": ..., \"message\": ...}}.");
            }
            failure = new Failure(
                RequiredString(failureElement, "code", where + ".failure"),
                RequiredString(failureElement, "message", where + ".failure"));
        }

        DateTimeOffset? finishedAt = null;
        if (Optional(entry, "finished_at") is { } finished)
        {
            // System.Text.Json's ISO 8601 reading, not DateTimeOffset.TryParse: that one also takes "11/29/2026" or
            // "Nov 29 2026", where a typo in a date would go unnoticed.
            if (finished.ValueKind != JsonValueKind.String || !finished.TryGetDateTimeOffset(out var parsed))
            {
                throw new SeedFileException($"{where}: finished_at must be an ISO 8601 time such as 2026-11-29T10:00:00Z.");
            }
            // Without an offset the time is UTC, whatever the machine's time zone.
            finishedAt = finished.TryGetDateTime(out var time) && time.Kind == DateTimeKind.Unspecified
                ? new DateTimeOffset(time, TimeSpan.Zero)
                : parsed.ToUniversalTime();
        }

        return new ScheduleRecord(scheduleId, licenseId, status, subQueries, rows, failure, finishedAt);
    }

    private static JsonElement? Optional(JsonElement entry, string name) =>
        entry.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string RequiredString(JsonElement entry, string name, string where) =>
        entry.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : throw new SeedFileException($"{where}: {name} is required and must be a non-empty string.");
}

public sealed class SeedFileException(string message) : Hosting.StartupException(message);
