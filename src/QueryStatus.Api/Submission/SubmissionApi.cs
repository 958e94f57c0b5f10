using System.Net.Mime;
using System.Runtime.InteropServices;
using System.Security.Claims;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Status;
using QueryStatus.Api.Store;
using QueryStatus.Api.Validation;

namespace QueryStatus.Api.Submission;

public static class SubmissionApi
{
    public static IServiceCollection AddSubmissionApi(this IServiceCollection services)
    {
        services.AddSingleton<IValidator<SubmitRequest>, SubmitRequestValidator>();
        services.AddSingleton<IValidator<StopRequest>, StopRequestValidator>();
        return services;
    }

    public static IEndpointRouteBuilder MapSubmissionApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/enterprise/v2/query")
            .WithTags("Query submission")
            .RequireAuthorization(Scopes.QueryWrite)
            .WithValidation();

        group.MapPost("/submit", Submit)
            .WithName("SubmitQuery")
            .WithSummary("Submit a query: its sub-queries join the license's queue")
            .WithDescription(
                "Creates a run of `schedule_id` (generated when left out) for the caller's license and answers 202 with " +
                "its status and a Location header pointing at the status URL. Only one run per schedule ID at a time: " +
                "409 while the previous one has not finished; a finished one is replaced, results included.")
            .Accepts<SubmitRequest>("application/json")
            .Produces<StatusResponseDoc>(StatusCodes.Status202Accepted, MediaTypeNames.Application.Json)
            .ProducesErrors(400, 401, 403, 409, 413, 415, 429);

        group.MapPost("/stop", Stop)
            .WithName("StopQuery")
            .WithSummary("Stop a query: queued sub-queries are dropped, running ones abandoned")
            .WithDescription("`schedule_id` as on the status endpoint (plain or inside `json`), or in a JSON body. 409 if the run already finished.")
            .Produces<StatusResponseDoc>(StatusCodes.Status200OK, MediaTypeNames.Application.Json)
            .ProducesErrors(400, 401, 403, 404, 409, 415, 429);

        return routes;
    }

    /// <summary>Starts a run of the caller's license.</summary>
    public static async Task<Results<StatusResult, ErrorResult>> Submit(
        [FromBody] SubmitRequest request,
        ClaimsPrincipal user,
        IScheduleStore store,
        CancellationToken cancellationToken)
    {
        var scheduleId = request.ScheduleId ?? NewScheduleId();
        DateTimeOffset? notBefore = SubmitRequest.TryParseTime(request.NotBefore, out var time) ? time : null;
        var payloads = request.SubQueries!.Select(s => (ReadOnlyMemory<byte>)JsonMarshal.GetRawUtf8Value(s).ToArray()).ToList();

        var outcome = await store.SubmitAsync(new SubmitCommand(user.GetLicenseId(), scheduleId, payloads, notBefore), cancellationToken);
        return outcome.Result == WriteResult.Ok
            ? new StatusResult(outcome.Status!, pretty: false, StatusCodes.Status202Accepted, StatusApi.StatusLocation(scheduleId))
            : outcome.ToError(scheduleId);
    }

    /// <summary>Stops a run of the caller's license.</summary>
    public static async Task<Results<StatusResult, ErrorResult>> Stop(
        StopRequest request,
        ClaimsPrincipal user,
        IScheduleStore store,
        CancellationToken cancellationToken)
    {
        var outcome = await store.StopAsync(user.GetLicenseId(), request.ScheduleId!, cancellationToken);
        return outcome.Result == WriteResult.Ok ? new StatusResult(outcome.Status!, pretty: false) : outcome.ToError(request.ScheduleId!);
    }

    /// <summary>"q_" and 24 random URL-safe characters: within the schedule_id rule, unguessable.</summary>
    private static string NewScheduleId() => "q_" + RandomIds.UrlSafe(18);

    /// <summary>The answer to a refused submit or stop: the store gives the code, the client reads this.</summary>
    internal static ErrorResult ToError(this WriteOutcome refused, string scheduleId) => refused.Refusal switch
    {
        // The status endpoint's own answer: one sentence for "no such query", whichever call asked.
        RunRefusal.ScheduleNotFound => StatusApi.NotFound(scheduleId),
        RunRefusal.RunNotFinished => new ErrorResult(StatusCodes.Status409Conflict,
            $"schedule_id '{scheduleId}' has a run that has not finished ({refused.RunStatus?.ToWire()}); stop it or wait for it to finish."),
        RunRefusal.RunAlreadyFinished => new ErrorResult(StatusCodes.Status409Conflict,
            $"The run of schedule_id '{scheduleId}' has already finished ({refused.RunStatus?.ToWire()})."),
        _ => throw new ArgumentOutOfRangeException(nameof(refused), refused.Refusal, "Not a refusal of a submit or stop."),
    };
}
