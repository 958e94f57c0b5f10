using System.Net.Mime;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Pipeline;
using QueryStatus.Api.Store;
using QueryStatus.Api.Validation;

namespace QueryStatus.Api.Status;

public static class StatusApi
{
    public const string StatusPath = "/enterprise/v2/query/status";

    public static string StatusLocation(string scheduleId) => $"{StatusPath}?schedule_id={scheduleId}";

    public static IServiceCollection AddStatusApi(this IServiceCollection services)
    {
        services.AddOptions<PagingOptions>().BindConfiguration(PagingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StatusWaitOptions>().BindConfiguration(StatusWaitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<StatusWaits>();
        services.AddSingleton<StatusRequestValidator>();
        services.AddSingleton<FluentValidation.IValidator<StatusRequest>>(sp => sp.GetRequiredService<StatusRequestValidator>());
        return services;
    }

    public static IEndpointRouteBuilder MapStatusApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/enterprise/v2/query")
            .WithTags("Query status");

        // Polls are most of the traffic: routing runs the endpoint at once, and its first filter authenticates, takes a
        // permit and authorizes the scope with the same services the middlewares use (see ShortCircuitPipeline).
        group.MapGet("/status", GetStatus)
            .ShortCircuitWithPolicy(Scopes.QueryRead)
            .WithName("GetQueryStatus")
            .WithSummary("Get status and results for an asynchronous query execution")
            .WithDescription(
                "Returns the query's status, its progress counters and, once it succeeded, the rows " +
                "[offset_start, offset_end) of its result. Parameters may be given as plain query parameters " +
                "or inside one URL-encoded JSON object in `json`.")
            .WithValidation()
            .Produces<StatusResponseDoc>(StatusCodes.Status200OK, MediaTypeNames.Application.Json)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesErrors(400, 401, 403, 404, 429);

        return routes;
    }

    /// <summary>The answer for a schedule the caller's license does not have (any more).</summary>
    public static ErrorResult NotFound(string scheduleId) =>
        new(StatusCodes.Status404NotFound,
            $"No query with schedule_id '{scheduleId}' exists for this license, or its results have expired.",
            message: "Query status not found.");

    /// <summary>Status, progress and one page of results of the caller's license's schedule.</summary>
    /// <remarks>
    /// The caller is read from <paramref name="context"/>, not bound as a <c>ClaimsPrincipal</c>: arguments are bound
    /// before the endpoint's filters run, and its first filter is the one that authenticates.
    /// <para>
    /// Conditional and long polls: with <c>If-None-Match</c>, the answer is 304 while the state still has that ETag;
    /// with <c>wait_seconds</c>, the request waits (holding no thread) until the state differs from that ETag, or
    /// without one until the query has finished, or until the seconds pass. Each look at the store is the same read as
    /// an ordinary poll; between looks it waits for the schedule's change event.
    /// </para>
    /// </remarks>
    public static async ValueTask<Results<StatusResult, NotModifiedResult, ErrorResult>> GetStatus(
        StatusRequest request,
        HttpContext context,
        IScheduleStore store,
        IOptions<PagingOptions> paging,
        StatusWaits waits,
        CancellationToken cancellationToken)
    {
        var licenseId = context.User.GetLicenseId();
        var scheduleId = request.ScheduleId!;
        var window = new PageWindow(request.OffsetStart, request.OffsetEnd, paging.Value.MaxRows);
        var known = context.Request.Headers.IfNoneMatch;
        using var wait = request.Wait > TimeSpan.Zero ? waits.TryStart(licenseId, scheduleId, request.Wait) : null;
        var timeUp = false;
        while (true)
        {
            wait?.Watch();
            var snapshot = await store.GetStatusAsync(licenseId, scheduleId, window, cancellationToken);
            if (snapshot is null)
            {
                return NotFound(scheduleId);
            }
            var etag = StatusETag.Of(snapshot);
            var notModified = known.Count > 0 && StatusETag.Matches(known, etag);
            var awaited = known.Count > 0 ? !notModified : snapshot.Status.IsFinished();
            if (awaited || wait is null || timeUp)
            {
                return notModified ? new NotModifiedResult(etag) : new StatusResult(snapshot, request.Pretty, etag: etag);
            }
            // When the time is up, one more look: the answer is the state at the deadline (or the store's 503), never
            // what was read before the wait, even if a change event was lost on the way.
            timeUp = !await wait.UntilChangeAsync(cancellationToken);
        }
    }
}
