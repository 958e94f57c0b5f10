using Serilog;

namespace QueryStatus.Api.Observability;

public static class LoggingExtensions
{
    /// <summary>
    /// Serilog from the "Serilog" configuration section, plus any <see cref="Serilog.Core.ILogEventSink"/>
    /// registered in DI (tests capture logs that way). The static logger is left alone: several hosts in
    /// one process (test servers) would otherwise fight over it.
    /// </summary>
    public static WebApplicationBuilder AddQueryStatusLogging(this WebApplicationBuilder builder)
    {
        builder.Services.AddSerilog((services, configuration) => configuration
            .ReadFrom.Configuration(builder.Configuration)
            .ReadFrom.Services(services)
            .Enrich.FromLogContext(), preserveStaticLogger: true);
        CachingLoggerFactory.Decorate(builder.Services);
        return builder;
    }

    /// <summary>
    /// Request id and one structured line per request (<see cref="RequestIdMiddleware"/>). The query string is
    /// left out on purpose: it can carry api_key.
    /// </summary>
    public static IApplicationBuilder UseQueryStatusRequestLogging(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestIdMiddleware>();
}
