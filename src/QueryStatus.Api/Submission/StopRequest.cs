using System.Reflection;
using System.Text.Json;
using FluentValidation;
using QueryStatus.Api.Errors;
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
        if (fromQuery is not null || !context.Request.HasJsonContentType())
        {
            return new StopRequest { ScheduleId = fromQuery };
        }

        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            return new StopRequest
            {
                ScheduleId = body.RootElement.ValueKind == JsonValueKind.Object
                             && body.RootElement.TryGetProperty(ParameterNames.ScheduleId, out var id)
                             && id.ValueKind == JsonValueKind.String
                    ? id.GetString()
                    : null,
            };
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON (at byte {e.BytePositionInLine ?? 0}).");
        }
    }
}

public sealed class StopRequestValidator : AbstractValidator<StopRequest>
{
    public StopRequestValidator()
    {
        RuleFor(r => r.ScheduleId)
            .NotEmpty().WithMessage("schedule_id: required.")
            .Matches(ScheduleIds.Pattern()).WithMessage($"schedule_id: must be {ScheduleIds.Rule}.");
    }
}
