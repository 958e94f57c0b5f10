using System.Buffers;
using System.Globalization;
using System.Text.Json;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Status;

/// <summary>
/// Writes the 200 status body straight to the response pipe: meta through <see cref="Utf8JsonWriter"/>,
/// rows as the stored bytes, so a page costs its own bytes and no object per row. Compact bodies are sent
/// with Content-Length; pretty ones (re-indented row by row) chunked.
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
        if (pretty)
        {
            await WritePrettyAsync(httpContext);
        }
        else
        {
            await WriteCompactAsync(httpContext);
        }
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_head;

    [ThreadStatic]
    private static Utf8JsonWriter? t_headWriter;

    /// <summary>
    /// The usual answer: its length is known before anything is sent (meta is written to a buffer first, the
    /// rows' bytes are summed from the index), so it goes out with Content-Length in as few sends as the body
    /// allows, instead of chunked with a separate terminating chunk. Then the rows' stored bytes are copied
    /// straight into the response, flushed every 64 KiB.
    /// </summary>
    private async Task WriteCompactAsync(HttpContext httpContext)
    {
        var body = httpContext.Response.BodyWriter;
        var page = Snapshot.Page;

        // Everything up to the data array's first row, into a per-thread buffer that is copied out before any
        // await.
        var head = t_head ??= new ArrayBufferWriter<byte>(1024);
        head.ResetWrittenCount();
        var json = t_headWriter ??= new Utf8JsonWriter(head, new JsonWriterOptions
        {
            SkipValidation = true,
            Encoder = ErrorEnvelope.WriterOptions.Encoder,
        });
        json.Reset(head);
        json.WriteStartObject();
        WriteMeta(json, httpContext.TraceIdentifier);
        json.WriteStartArray("data");
        json.Flush();

        httpContext.Response.ContentLength = head.WrittenCount + page.Rows.MeasureElements(page.Start, page.End) + Tail.Length;

        // Started before anything is written: bytes written into the pipe before the headers are held aside and
        // copied again once the headers go out (Kestrel's "data written before headers"), a whole extra copy of
        // the body. Starting usually completes at once; if not, the per-thread head is copied out before waiting.
        var cancellation = httpContext.RequestAborted;
        var starting = httpContext.Response.StartAsync(cancellation);
        if (starting.IsCompletedSuccessfully)
        {
            body.Write(head.WrittenSpan);
        }
        else
        {
            var headCopy = head.WrittenSpan.ToArray();
            await starting;
            body.Write(headCopy);
        }

        for (var next = page.Start; next < page.End;)
        {
            next = page.Rows.WriteElements(next, page.End, first: next == page.Start, body, FlushThreshold);
            if (next < page.End)
            {
                await body.FlushAsync(cancellation);
            }
        }
        body.Write(Tail);
        await body.FlushAsync(cancellation);
    }

    /// <summary>Closes the data array and the body.</summary>
    private static ReadOnlySpan<byte> Tail => "]}"u8;

    private async Task WritePrettyAsync(HttpContext httpContext)
    {
        var body = httpContext.Response.BodyWriter;
        var cancellation = httpContext.RequestAborted;
        await using var json = new Utf8JsonWriter(body, new JsonWriterOptions
        {
            Indented = true,
            Encoder = ErrorEnvelope.WriterOptions.Encoder,
        });

        json.WriteStartObject();
        WriteMeta(json, httpContext.TraceIdentifier);
        json.WriteStartArray("data");
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
