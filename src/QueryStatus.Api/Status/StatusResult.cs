using System.Globalization;
using System.Text.Json;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Status;

/// <summary>
/// Writes the 200 status body straight to the response pipe: meta through <see cref="Utf8JsonWriter"/>,
/// rows as the stored bytes, so a page costs its own bytes and no object per row.
/// </summary>
public sealed class StatusResult(StatusSnapshot snapshot, bool pretty, int statusCode = StatusCodes.Status200OK, string? location = null)
    : IResult, IStatusCodeHttpResult
{
    private const int FlushThreshold = 64 * 1024;

    public StatusSnapshot Snapshot { get; } = snapshot;
    int? IStatusCodeHttpResult.StatusCode => statusCode;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = statusCode;
        response.ContentType = ErrorEnvelope.ContentType;
        if (location is not null)
        {
            response.Headers.Location = location;
        }

        var body = response.BodyWriter;
        var cancellation = httpContext.RequestAborted;
        await using var json = new Utf8JsonWriter(body, new JsonWriterOptions
        {
            Indented = pretty,
            SkipValidation = !pretty,
            Encoder = ErrorEnvelope.WriterOptions.Encoder,
        });

        json.WriteStartObject();
        WriteMeta(json, httpContext.TraceIdentifier);
        json.WriteStartArray("data");
        if (pretty)
        {
            foreach (var row in Snapshot.Page)
            {
                // Indenting means re-reading the row; only people reading by eye ask for it.
                using var document = JsonDocument.Parse(row);
                document.WriteTo(json);
                if (json.BytesPending >= FlushThreshold)
                {
                    json.Flush();
                    await body.FlushAsync(cancellation);
                }
            }
        }
        else
        {
            // The stored bytes go straight into the response, comma-separated, flushed every 64 KiB; the JSON
            // writer (unvalidated in this mode) only closes the array after them.
            json.Flush();
            var page = Snapshot.Page;
            for (var next = page.Start; next < page.End;)
            {
                next = page.Rows.WriteElements(next, page.End, first: next == page.Start, body, FlushThreshold);
                if (next < page.End)
                {
                    await body.FlushAsync(cancellation);
                }
            }
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        await body.FlushAsync(cancellation);
    }

    private void WriteMeta(Utf8JsonWriter json, string requestId)
    {
        var s = Snapshot;
        json.WriteStartObject("meta");
        json.WriteString("request_id", requestId);
        json.WriteString("schedule_id", s.ScheduleId);
        json.WriteString("status_code", s.Status.ToWire());

        json.WriteStartObject("progress");
        json.WriteNumber("queries_ready", s.QueriesReady);
        json.WriteNumber("queries_total", s.QueriesTotal);
        json.WriteEndObject();

        json.WriteStartObject("workflow");
        json.WriteNumber("tasks_scheduled", s.TasksScheduled);
        json.WriteNumber("tasks_running", s.TasksRunning);
        json.WriteEndObject();

        json.WriteStartObject("paging");
        json.WriteNumber("offset_start", s.Page.Start);
        json.WriteNumber("offset_end", s.Page.End);
        json.WriteNumber("total_rows", s.TotalRows);
        if (s.Page.End < s.TotalRows)
        {
            json.WriteNumber("next_offset_start", s.Page.End);
        }
        else
        {
            json.WriteNull("next_offset_start");
        }
        json.WriteEndObject();

        if (s.Failure is { } failure)
        {
            json.WriteStartObject("failure");
            json.WriteString("code", failure.Code);
            json.WriteString("message", failure.Message);
            json.WriteEndObject();
        }
        if (s.ExpiresAt is { } expires)
        {
            json.WriteString("expires_at", FormatUtc(expires));
        }
        json.WriteEndObject();
    }

    public static string FormatUtc(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}
