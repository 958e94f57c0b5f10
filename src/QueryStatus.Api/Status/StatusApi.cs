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
    /// </remarks>
    public static async ValueTask<Results<StatusResult, ErrorResult>> GetStatus(
        StatusRequest request,
        HttpContext context,
        IScheduleStore store,
        IOptions<PagingOptions> paging,
        CancellationToken cancellationToken)
    {
        var window = new PageWindow(request.OffsetStart, request.OffsetEnd, paging.Value.MaxRows);
        var snapshot = await store.GetStatusAsync(context.User.GetLicenseId(), request.ScheduleId!, window, cancellationToken);
        if (snapshot is null)
        {
            return NotFound(request.ScheduleId!);
        }
        return new StatusResult(snapshot, request.Pretty);
    }
}
