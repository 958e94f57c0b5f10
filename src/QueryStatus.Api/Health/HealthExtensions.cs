using System.Net.Mime;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Health;

public sealed class StoreHealthCheck(IScheduleStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (StoreUnavailableException e)
        {
            return HealthCheckResult.Unhealthy("The schedule store cannot be reached.", e);
        }
    }
}

public static class HealthExtensions
{
    private const string ReadyTag = "ready";

    public static IServiceCollection AddQueryStatusHealth(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: [ReadyTag]);
        return services;
    }

    /// <summary><c>/healthz</c>: the process answers. <c>/readyz</c>: the store answers too. No auth.</summary>
    public static IEndpointRouteBuilder MapQueryStatusHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync })
            .WithName("Liveness");
        routes.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync })
            .WithName("Readiness");
        return routes;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        if (report.Status == HealthStatus.Unhealthy)
        {
            return ErrorEnvelope.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                string.Join(" ", report.Entries.Values.Select(e => e.Description).OfType<string>()));
        }
        context.Response.ContentType = MediaTypeNames.Application.Json;
        return context.Response.WriteAsync($"{{\"status\":\"{report.Status}\"}}");
    }
}
