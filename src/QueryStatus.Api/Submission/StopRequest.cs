using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.Features;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Http;
using QueryStatus.Api.Parameters;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Submission;

/// <summary>
/// <c>schedule_id</c> for <c>POST /enterprise/v2/query/stop</c>: as on the status endpoint (plain or
/// inside <c>json</c>), or in a JSON body <c>{"schedule_id": ...}</c>.
/// </summary>
public sealed class StopRequest
{
    public string? ScheduleId { get; init; }

    public static async ValueTask<StopRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var fromQuery = RequestParameters.For(context)[ParameterNames.ScheduleId];
        // The server's own answer to "was a body sent" (a length above 0, or chunked).
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: true })
        {
            return new StopRequest { ScheduleId = fromQuery };
        }
        if (!context.Request.HasJsonContentType())
        {
            // As the other endpoints with a body answer (README: errors); a body of another type was ignored before.
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, "Send the request body as application/json.");
        }

        string? fromBody;
        try
        {
            // With the framework's JSON options, as every bound body: a key given twice is refused (JsonBodies).
            var body = await context.Request.ReadFromJsonAsync<JsonElement>(context.RequestAborted);
            fromBody = body.ValueKind == JsonValueKind.Object ? ScheduleIdIn(body) : null;
        }
        catch (JsonException e)
        {
            // The parser's message can quote the body: only its position is passed on, with the causes it may have (as
            // bound bodies' descriptions list them).
            throw ApiException.BadRequest($"The request body is not valid JSON, or gives a key twice (at byte {e.BytePositionInLine ?? 0}).");
        }
        if (fromQuery is not null && fromBody is not null && !string.Equals(fromQuery, fromBody, StringComparison.Ordinal))
        {
            // Which of two queries to stop is not ours to guess (the status endpoint refuses such a conflict too).
            throw ApiException.BadRequest("schedule_id: given in the query and in the body with different values; give it once.");
        }
        return new StopRequest { ScheduleId = fromQuery ?? fromBody };
    }

    /// <summary>
    /// The body's <c>schedule_id</c> when it is a string, its name in any case, as in the query string and inside
    /// <c>json</c> (<see cref="ParameterNames.Slots"/>); the same name twice in different cases is refused, as the
    /// same name twice is.
    /// </summary>
    private static string? ScheduleIdIn(JsonElement body)
    {
        JsonElement? found = null;
        foreach (var property in body.EnumerateObject())
        {
            if (ParameterNames.Slots.TryGetValue(property.Name, out var slot) && ParameterNames.InOrder[slot] == ParameterNames.ScheduleId)
            {
                if (found is not null)
                {
                    throw ApiException.BadRequest("schedule_id: given more than once in the body; give it once.");
                }
                found = property.Value;
            }
        }
        return found is { ValueKind: JsonValueKind.String } id ? ReadableString(id) : null;
    }

    /// <summary>The string's text, or 400 when it is not readable text (<see cref="JsonText"/>): it could not be read as a string.</summary>
    private static string ReadableString(JsonElement value) =>
        JsonText.IsReadable(JsonMarshal.GetRawUtf8Value(value))
            ? value.GetString()!
            : throw ApiException.BadRequest($"schedule_id: must be {JsonText.Rule}.");
}

public sealed class StopRequestValidator : AbstractValidator<StopRequest>
{
    public StopRequestValidator()
    {
        RuleFor(r => r.ScheduleId)
            .NotEmpty().WithMessage("schedule_id: required.")
            .Must(id => id is null || ScheduleIds.IsValid(id)).WithMessage($"schedule_id: must be {ScheduleIds.Rule}.");
    }
}
