using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Parameters;
using QueryStatus.Api.RateLimiting;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Status;

/// <summary>
/// Answers the one request clients send most, a valid poll of <c>GET /enterprise/v2/query/status</c>, without
/// routing, the authentication and authorization middleware or the endpoint's binding: pollers send it every
/// second or two for every query they run, and the framework's per-request machinery cost several times the
/// answer itself (see bench/RESULTS.md).
/// </summary>
/// <remarks>
/// It answers only what the full pipeline would certainly answer the same way, with the same bytes, headers and
/// rate-limit accounting: plain parameters that <see cref="StatusRequestValidator.IsClearlyValid"/> accepts, a
/// credential that <see cref="CredentialCheck"/> accepts for <see cref="Scopes.QueryRead"/>, a permit from the same
/// limiter; then the status (200) or <see cref="StatusApi.NotFound"/> (404), as the endpoint answers. Everything
/// else (a <c>json</c> parameter, a repeated one, a refused credential or parameter, a CORS request, a refused
/// permit) goes on down the pipeline untouched, which decides and describes it. Request id, request log and the
/// exception handler sit in front of it, as they do for every request.
/// </remarks>
public sealed class StatusFastLane(
    RequestDelegate next,
    CredentialCheck credentials,
    StatusRequestValidator validator,
    IScheduleStore store,
    ApiRateLimiter limiter,
    IOptions<PagingOptions> paging,
    IMeterFactory meters)
{
    public const string MeterName = Observability.Telemetry.MeterName;
    public const string AnsweredCounterName = "querystatus.status.fast_lane.answered";

    private readonly int _maxRows = paging.Value.MaxRows;

    // How many polls the fast lane answered: what share of the status traffic it carries, for operators.
    private readonly Counter<long> _answered = meters.Create(MeterName).CreateCounter<long>(
        AnsweredCounterName, unit: "{request}", description: "Status polls answered (200 or 404) by the fast lane, without the full pipeline.");

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method)
            || !request.Path.Equals(StatusApi.StatusPath, StringComparison.OrdinalIgnoreCase)
            || request.Headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.Origin)
            || RequestParameters.TryPlain(request.QueryString.Value) is not { } parameters)
        {
            return next(context);
        }
        return AnswerOrPassAsync(context, parameters);
    }

    private async Task AnswerOrPassAsync(HttpContext context, RequestParameters parameters)
    {
        var status = StatusRequest.From(parameters);
        if (!validator.IsClearlyValid(status) || credentials.TryAuthorize(context, parameters, Scopes.QueryRead) is not { } user)
        {
            await next(context);
            return;
        }

        // The permit before the store, as in the pipeline: a client over its limit costs no store read. A request
        // refused a permit is passed on uncounted (a refusal takes none) and the pipeline answers its 429.
        context.User = user;
        using var lease = limiter.Limiter.AttemptAcquire(context);
        if (!lease.IsAcquired)
        {
            await PassOnAsync(context);
            return;
        }
        // From here on the response may be written by the exception handler: it must carry the caller's budget,
        // as it would from the pipeline.
        limiter.ReportBudgetOnStarting(context);

        var window = new PageWindow(status.OffsetStart, status.OffsetEnd, _maxRows);
        var snapshot = await store.GetStatusAsync(user.GetLicenseId(), status.ScheduleId!, window, context.RequestAborted);
        _answered.Add(1);
        IResult answer = snapshot is null ? StatusApi.NotFound(status.ScheduleId!) : new StatusResult(snapshot, status.Pretty);
        await answer.ExecuteAsync(context);
    }

    /// <summary>
    /// Hands the request to the pipeline as it arrived: anonymous, so that only the pipeline's own
    /// authentication decides who it is.
    /// </summary>
    private Task PassOnAsync(HttpContext context)
    {
        context.User = Anonymous;
        return next(context);
    }

    private static System.Security.Claims.ClaimsPrincipal Anonymous => new(new System.Security.Claims.ClaimsIdentity());
}

public static class StatusFastLaneExtensions
{
    public static IApplicationBuilder UseStatusFastLane(this IApplicationBuilder app) => app.UseMiddleware<StatusFastLane>();
}
