using System.ComponentModel;
using System.Text.Json.Serialization;

namespace QueryStatus.Api.Errors;

// The error envelope's shape for OpenAPI; ErrorEnvelope writes the same field names.

[Description("Standard envelope returned by all error (4xx/5xx) responses.")]
public sealed record ErrorEnvelopeDoc(
    [property: JsonPropertyName("meta"), Description("Metadata included in every API response.")] ErrorMetaDoc Meta,
    [property: JsonPropertyName("error"), Description("Machine- and human-readable detail for a failed request.")] ErrorDoc Error);

public sealed record ErrorMetaDoc(
    [property: JsonPropertyName("request_id"), Description("Unique identifier for the request, for tracking and debugging.")] string RequestId);

public sealed record ErrorDoc(
    [property: JsonPropertyName("code"), Description("Stable, screaming-snake-case identifier for the error condition. Clients should branch on this, not on message.")] string Code,
    [property: JsonPropertyName("message"), Description("Short, human-readable summary of the error.")] string Message,
    [property: JsonPropertyName("description"), Description("Optional longer explanation specific to this occurrence.")] string? Description);

public static class ErrorEnvelopeDocExtensions
{
    /// <summary>Documents the envelope for each status, plus the 500 and 503 any endpoint can answer.</summary>
    public static RouteHandlerBuilder ProducesErrors(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses.Append(StatusCodes.Status500InternalServerError).Append(StatusCodes.Status503ServiceUnavailable))
        {
            builder.Produces<ErrorEnvelopeDoc>(status, ErrorEnvelope.ContentType);
        }
        return builder;
    }
}
