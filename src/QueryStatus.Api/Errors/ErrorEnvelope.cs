using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace QueryStatus.Api.Errors;

/// <summary>
/// The one writer of the error envelope
/// <c>{"meta":{"request_id"},"error":{"code","message","description"}}</c>. Every failure path
/// (exception handler, status code pages, auth challenge/forbid, rate limiter, validation, binding)
/// ends here so clients can branch on <c>error.code</c> whatever produced the failure.
/// </summary>
public static class ErrorEnvelope
{
    public const string ContentType = "application/json";

    /// <summary>
    /// Bodies are only ever served as application/json, never embedded in HTML, so descriptions keep
    /// their quotes and angle brackets readable for people using curl.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// When a 503 tells clients to come back (seconds): long enough that a restarting database or a failover is not
    /// hammered by every client at once, short enough that a poll loop barely notices an outage of that length.
    /// </summary>
    public const int UnavailableRetryAfterSeconds = 5;

    private static readonly string UnavailableRetryAfterSecondsText = UnavailableRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static async Task WriteAsync(
        HttpContext context, int status, string? description = null, string? code = null, string? message = null)
    {
        var (defaultCode, defaultMessage) = ErrorCodes.ForStatus(status);
        context.Response.StatusCode = status;
        context.Response.ContentType = ContentType;
        context.Response.ContentLength = null;
        if (status == StatusCodes.Status503ServiceUnavailable && !context.Response.Headers.ContainsKey(HeaderNames.RetryAfter))
        {
            context.Response.Headers.RetryAfter = UnavailableRetryAfterSecondsText;
        }

        var body = context.Response.BodyWriter;
        using (var json = new Utf8JsonWriter(body, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteStartObject("meta");
            json.WriteString("request_id", context.TraceIdentifier);
            json.WriteEndObject();
            json.WriteStartObject("error");
            json.WriteString("code", code ?? defaultCode);
            json.WriteString("message", message ?? defaultMessage);
            if (description is not null)
            {
                json.WriteString("description", description);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        await body.FlushAsync(context.RequestAborted);
    }
}
