using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace QueryStatus.Api.Errors;

/// <summary>
/// The single place exceptions become responses. Client errors (<see cref="ApiException"/>, the
/// framework's <see cref="BadHttpRequestException"/>) keep their status; anything else is a 500 whose
/// body never carries the exception's text.
/// </summary>
public sealed partial class EnvelopeExceptionHandler(ILogger<EnvelopeExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case ApiException api:
                await ErrorEnvelope.WriteAsync(context, api.StatusCode, api.Description);
                return true;
            case BadHttpRequestException bad:
                // Framework binding failures name the parameter and what was wrong with it, never a value
                // of ours; still, only their status and message travel, not the exception itself.
                await ErrorEnvelope.WriteAsync(context, bad.StatusCode, BindingDescription(bad));
                return true;
            case UnavailableException unavailable:
                LogUnavailable(logger, unavailable);
                await ErrorEnvelope.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, unavailable.Description);
                return true;
            default:
                // .NET 10 no longer logs exceptions that a handler took care of; a 500 must leave a trace.
                LogUnhandled(logger, exception, context.Request.Method, context.Request.Path);
                await ErrorEnvelope.WriteAsync(context, StatusCodes.Status500InternalServerError,
                    "Quote the request_id when you report this.");
                return true;
        }
    }

    private static string BindingDescription(BadHttpRequestException exception) => exception switch
    {
        { StatusCode: StatusCodes.Status413PayloadTooLarge } => "The request body is larger than this endpoint accepts.",
        { StatusCode: StatusCodes.Status415UnsupportedMediaType } => "Send the request body as application/json.",
        // The serializer's message can quote the body; its path and position say where the problem is.
        { InnerException: JsonException json } => json.Path is { Length: > 1 } path
            ? $"The request body does not fit this endpoint at {path} (a value of the wrong type, a key given twice, or not valid JSON)."
            : "The request body must be one JSON object (it is not one, or it is not valid JSON).",
        // The framework names the handler's parameter and its .NET type ("SubmitRequest request"): not the client's words.
        { Message: var message } when message.StartsWith("Required parameter", StringComparison.Ordinal) && message.EndsWith("from body.", StringComparison.Ordinal)
            => "The request body is required: send one JSON object.",
        _ => exception.Message,
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception while serving {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Service unavailable: a dependency cannot be reached")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
