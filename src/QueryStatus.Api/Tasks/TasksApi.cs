using System.Net.Mime;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Store;
using QueryStatus.Api.Validation;

namespace QueryStatus.Api.Tasks;

/// <summary>The worker protocol: lease tasks, heartbeat, send rows, complete or fail. Workers serve every license.</summary>
public static class TasksApi
{
    public const string Prefix = "/enterprise/v2/tasks";

    public static IServiceCollection AddTasksApi(this IServiceCollection services)
    {
        services.AddSingleton<IValidator<LeaseRequest>, LeaseRequestValidator>();
        services.AddSingleton<IValidator<HeartbeatRequest>, HeartbeatRequestValidator>();
        services.AddSingleton<IValidator<RowsRequest>, RowsRequestValidator>();
        services.AddSingleton<IValidator<CompleteRequest>, CompleteRequestValidator>();
        services.AddSingleton<IValidator<FailRequest>, FailRequestValidator>();
        return services;
    }

    public static IEndpointRouteBuilder MapTasksApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup(Prefix)
            .WithTags("Worker protocol")
            .RequireAuthorization(Scopes.Worker)
            .WithValidation();

        group.MapPost("/lease", Lease)
            .WithName("LeaseTasks")
            .WithSummary("Lease ready tasks (FIFO per license, fair across licenses), waiting up to wait_seconds for one")
            .Accepts<LeaseRequest>("application/json")
            .Produces<LeaseResponse>(StatusCodes.Status200OK, MediaTypeNames.Application.Json)
            .ProducesErrors(400, 401, 403, 413, 415, 429);

        MapTaskCall<HeartbeatRequest>(group, "heartbeat", Heartbeat, "HeartbeatTask",
            "Extend a task's lease");
        MapTaskCall<RowsRequest>(group, "rows", AppendRows, "AppendTaskRows",
            "Send a batch of result rows; a repeated (lease_token, batch) is acknowledged once more and adds nothing");
        MapTaskCall<CompleteRequest>(group, "complete", Complete, "CompleteTask",
            "Seal a task: its rows join the result, new sub-queries join the query; repeating it is a no-op");
        MapTaskCall<FailRequest>(group, "fail", Fail, "FailTask",
            "Report a failed attempt: retried while retryable and attempts remain, else the query fails");

        return routes;
    }

    /// <summary>The calls on one leased task share a shape: <c>POST /{task_id}/{verb}</c>, a lease token, the task's state back.</summary>
    private static void MapTaskCall<TRequest>(RouteGroupBuilder group, string verb, Delegate handler, string name, string summary)
        where TRequest : notnull =>
        group.MapPost($"/{{task_id}}/{verb}", handler)
            .WithName(name)
            .WithSummary(summary)
            .Accepts<TRequest>("application/json")
            .Produces<TaskCallResponse>(StatusCodes.Status200OK, MediaTypeNames.Application.Json)
            .ProducesErrors(400, 401, 403, 404, 409, 413, 415, 429);

    /// <summary>Leases up to max_tasks tasks.</summary>
    public static async Task<JsonHttpResult<LeaseResponse>> Lease(
        [FromBody] LeaseRequest request, IScheduleStore store, CancellationToken cancellationToken)
    {
        var command = new LeaseCommand(request.WorkerId!, request.MaxTasks ?? 1, TimeSpan.FromSeconds(request.LeaseSeconds ?? 60));
        var tasks = await store.LeaseAsync(command, TimeSpan.FromSeconds(request.WaitSeconds ?? 0), cancellationToken);
        return Json(new LeaseResponse([.. tasks.Select(t => new LeasedTaskDoc(
            t.TaskId, t.ScheduleId, t.LicenseId, new RawJson(t.Payload), t.Attempt, t.LeaseToken, t.LeaseExpiresAt.UtcDateTime))]));
    }

    /// <summary>Extends the lease of a running task.</summary>
    public static async Task<Results<JsonHttpResult<TaskCallResponse>, ErrorResult>> Heartbeat(
        [FromRoute(Name = "task_id")] string taskId, [FromBody] HeartbeatRequest request, IScheduleStore store, CancellationToken cancellationToken) =>
        Answer(taskId, await store.HeartbeatAsync(taskId, request.LeaseToken!, TimeSpan.FromSeconds(request.LeaseSeconds ?? 60), cancellationToken));

    /// <summary>Stages a batch of rows.</summary>
    public static async Task<Results<JsonHttpResult<TaskCallResponse>, ErrorResult>> AppendRows(
        [FromRoute(Name = "task_id")] string taskId, [FromBody] RowsRequest request, IScheduleStore store, CancellationToken cancellationToken) =>
        Answer(taskId, await store.AppendRowsAsync(taskId, request.LeaseToken!, request.Batch!.Value, Raw(request.Rows), cancellationToken),
            reportRows: true);

    /// <summary>Seals the task.</summary>
    public static async Task<Results<JsonHttpResult<TaskCallResponse>, ErrorResult>> Complete(
        [FromRoute(Name = "task_id")] string taskId, [FromBody] CompleteRequest request, IScheduleStore store, CancellationToken cancellationToken) =>
        Answer(taskId, await store.CompleteAsync(taskId, request.LeaseToken!, Raw(request.Rows), Raw(request.SubQueries), cancellationToken));

    /// <summary>Reports a failed attempt.</summary>
    public static async Task<Results<JsonHttpResult<TaskCallResponse>, ErrorResult>> Fail(
        [FromRoute(Name = "task_id")] string taskId, [FromBody] FailRequest request, IScheduleStore store, CancellationToken cancellationToken) =>
        Answer(taskId, await store.FailAsync(taskId, request.LeaseToken!,
            new TaskFailure(request.Code!, request.Message!, request.Retryable ?? false), cancellationToken));

    /// <summary>
    /// The request body cap of worker calls (<c>Scheduler:MaxRequestBodyBytes</c>): a declared length over it is
    /// refused before reading; a chunked body is cut off by the server when it passes it. Both answer 413.
    /// </summary>
    public static IApplicationBuilder UseWorkerBodyLimit(this IApplicationBuilder app) =>
        app.UseWhen(IsWorkerCall, branch => branch.Use((context, next) =>
        {
            var limit = context.RequestServices.GetRequiredService<IOptions<SchedulerOptions>>().Value.MaxRequestBodyBytes;
            if (context.Request.ContentLength > limit)
            {
                return ErrorEnvelope.WriteAsync(context, StatusCodes.Status413PayloadTooLarge,
                    $"Worker calls may send at most {limit} bytes; send rows in smaller batches.");
            }
            if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            {
                size.MaxRequestBodySize = limit;
            }
            return next(context);
        }));

    /// <summary>Whether a request is a worker-protocol call, for the middlewares that apply to those alone.</summary>
    internal static bool IsWorkerCall(HttpContext context) => context.Request.Path.StartsWithSegments(Prefix);

    private static Results<JsonHttpResult<TaskCallResponse>, ErrorResult> Answer(string taskId, TaskOutcome outcome, bool reportRows = false) =>
        outcome.Result switch
        {
            WriteResult.NotFound => new ErrorResult(StatusCodes.Status404NotFound, Describe(outcome, taskId), message: "Task not found."),
            WriteResult.Conflict => new ErrorResult(StatusCodes.Status409Conflict, Describe(outcome, taskId)),
            _ => Json(new TaskCallResponse(
                taskId,
                ToWire(outcome.TaskState!.Value),
                outcome.Attempt,
                outcome.LeaseExpiresAt?.UtcDateTime,
                outcome.Result == WriteResult.Duplicate,
                reportRows ? outcome.RowsAccepted : null)),
        };

    /// <summary>The <c>state</c> of a task call's answer.</summary>
    internal static string ToWire(TaskState state) => state switch
    {
        TaskState.Queued => "QUEUED",
        TaskState.Running => "RUNNING",
        TaskState.Done => "DONE",
        TaskState.Failed => "FAILED",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    /// <summary>The <c>error.description</c> of a refused task call: the store gives the code, the worker reads this.</summary>
    internal static string Describe(TaskOutcome refused, string taskId) => refused.Refusal switch
    {
        TaskRefusal.TaskNotFound => $"No task '{taskId}' exists, or its query's results have expired.",
        TaskRefusal.LeaseExpired => "The lease expired; the task is waiting to be leased again.",
        TaskRefusal.UnknownLease => "The lease token is stale or unknown: the lease expired and the task was leased again.",
        TaskRefusal.TaskAlreadyCompleted => "The task was already completed; it takes no more calls (a complete repeated with its lease token is answered as a duplicate).",
        TaskRefusal.QueryEnded when refused.RunStatus == ScheduleStatus.Stopped => "The query was stopped; this task was abandoned.",
        TaskRefusal.QueryEnded => $"The query finished ({refused.RunStatus?.ToWire()}); this task was abandoned.",
        TaskRefusal.ResultTooLarge => "The run failed with RESULT_TOO_LARGE: these rows would exceed the row limit.",
        _ => throw new ArgumentOutOfRangeException(nameof(refused), refused.Refusal, "Not a refusal of a task call."),
    };

    private static JsonHttpResult<T> Json<T>(T value) => TypedResults.Json(value, contentType: MediaTypeNames.Application.Json);

    private static IReadOnlyList<ReadOnlyMemory<byte>> Raw(RawJsonArray? values) => values is null ? [] : values.Values;
}
