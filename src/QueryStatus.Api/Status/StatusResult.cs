using System.Buffers;
using System.Globalization;
using System.Net.Mime;
using System.Text.Json;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Status;

/// <summary>
/// Writes the 200 status body straight to the response pipe: meta through <see cref="Utf8JsonWriter"/>,
/// rows as the stored bytes, so a page costs its own bytes and no object per row. Compact bodies are sent
/// with Content-Length; pretty ones (re-indented row by row) chunked.
/// </summary>
public sealed class StatusResult(
    StatusSnapshot snapshot, bool pretty, int statusCode = StatusCodes.Status200OK, string? location = null, string? etag = null)
    : IResult, IStatusCodeHttpResult
{
    private const int FlushThreshold = 64 * 1024;

    public StatusSnapshot Snapshot { get; } = snapshot;
    int? IStatusCodeHttpResult.StatusCode => statusCode;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = statusCode;
        response.ContentType = MediaTypeNames.Application.Json;
        if (location is not null)
        {
            response.Headers.Location = location;
        }
        if (etag is not null)
        {
            response.Headers.ETag = etag;
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
        json.WriteStartArray(Names.Data);
        json.Flush();

        httpContext.Response.ContentLength = head.WrittenCount + page.ByteCount + Tail.Length;

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

        // The page's stored bytes as they are, flushed every FlushThreshold bytes so a big page never sits whole in the pipe.
        foreach (var segment in page.Segments)
        {
            for (var rest = segment; !rest.IsEmpty;)
            {
                var piece = rest[..Math.Min(rest.Length, FlushThreshold)];
                body.Write(piece.Span);
                rest = rest[piece.Length..];
                if (!rest.IsEmpty)
                {
                    await body.FlushAsync(cancellation);
                }
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
        json.WriteStartArray(Names.Data);
        foreach (var row in Snapshot.Page)
        {
            // Indenting means re-reading the rows; only people reading by eye ask for it.
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
        json.WriteStartObject(Names.Meta);
        json.WriteString(Names.RequestId, requestId);
        json.WriteString(Names.ScheduleId, s.ScheduleId);
        json.WriteString(Names.StatusCode, s.Status.ToWire());

        json.WriteStartObject(Names.Progress);
        json.WriteNumber(Names.QueriesReady, s.QueriesReady);
        json.WriteNumber(Names.QueriesTotal, s.QueriesTotal);
        json.WriteEndObject();

        json.WriteStartObject(Names.Workflow);
        json.WriteNumber(Names.TasksScheduled, s.TasksScheduled);
        json.WriteNumber(Names.TasksRunning, s.TasksRunning);
        json.WriteEndObject();

        json.WriteStartObject(Names.Paging);
        json.WriteNumber(Names.OffsetStart, s.Page.Start);
        json.WriteNumber(Names.OffsetEnd, s.Page.End);
        json.WriteNumber(Names.TotalRows, s.TotalRows);
        if (s.Page.End < s.TotalRows)
        {
            json.WriteNumber(Names.NextOffsetStart, s.Page.End);
        }
        else
        {
            json.WriteNull(Names.NextOffsetStart);
        }
        json.WriteEndObject();

        if (s.Failure is { } failure)
        {
            json.WriteStartObject(Names.Failure);
            json.WriteString(Names.Code, failure.Code);
            json.WriteString(Names.Message, failure.Message);
            json.WriteEndObject();
        }
        if (s.ExpiresAt is { } expires)
        {
            json.WriteString(Names.ExpiresAt, FormatUtc(expires));
        }
        json.WriteEndObject();
    }

    /// <summary>Property names escaped once, not on every poll.</summary>
    private static class Names
    {
        public static readonly JsonEncodedText Code = JsonEncodedText.Encode("code");
        public static readonly JsonEncodedText Data = JsonEncodedText.Encode("data");
        public static readonly JsonEncodedText ExpiresAt = JsonEncodedText.Encode("expires_at");
        public static readonly JsonEncodedText Failure = JsonEncodedText.Encode("failure");
        public static readonly JsonEncodedText Message = JsonEncodedText.Encode("message");
        public static readonly JsonEncodedText Meta = JsonEncodedText.Encode("meta");
        public static readonly JsonEncodedText NextOffsetStart = JsonEncodedText.Encode("next_offset_start");
        public static readonly JsonEncodedText OffsetEnd = JsonEncodedText.Encode("offset_end");
        public static readonly JsonEncodedText OffsetStart = JsonEncodedText.Encode("offset_start");
        public static readonly JsonEncodedText Paging = JsonEncodedText.Encode("paging");
        public static readonly JsonEncodedText Progress = JsonEncodedText.Encode("progress");
        public static readonly JsonEncodedText QueriesReady = JsonEncodedText.Encode("queries_ready");
        public static readonly JsonEncodedText QueriesTotal = JsonEncodedText.Encode("queries_total");
        public static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("request_id");
        public static readonly JsonEncodedText ScheduleId = JsonEncodedText.Encode("schedule_id");
        public static readonly JsonEncodedText StatusCode = JsonEncodedText.Encode("status_code");
        public static readonly JsonEncodedText TasksRunning = JsonEncodedText.Encode("tasks_running");
        public static readonly JsonEncodedText TasksScheduled = JsonEncodedText.Encode("tasks_scheduled");
        public static readonly JsonEncodedText TotalRows = JsonEncodedText.Encode("total_rows");
        public static readonly JsonEncodedText Workflow = JsonEncodedText.Encode("workflow");
    }

    public static string FormatUtc(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}
