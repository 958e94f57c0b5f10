using QueryStatus.Api.Auth;
using Serilog;
using Serilog.Filters;

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
            .Enrich.FromLogContext()
            // The hosting layer's "Request starting/finished" lines print the full URL, api_key included,
            // at whatever level someone turns on; our request log replaces them.
            .Filter.ByExcluding(Matching.FromSource("Microsoft.AspNetCore.Hosting.Diagnostics")), preserveStaticLogger: true);
        CachingLoggerFactory.Decorate(builder.Services);
        return builder;
    }

    /// <summary>
    /// One structured line per request. The query string is left out on purpose: it can carry api_key.
    /// </summary>
    public static IApplicationBuilder UseQueryStatusRequestLogging(this IApplicationBuilder app)
    {
        app.UseMiddleware<RequestIdMiddleware>();
        app.UseSerilogRequestLogging(o =>
        {
            o.Logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
            o.MessageTemplate =
                "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms (request {RequestId}, license {LicenseId})";
            o.EnrichDiagnosticContext = (diagnostics, http) =>
            {
                diagnostics.Set("RequestId", http.TraceIdentifier);
                diagnostics.Set("LicenseId", http.User.LicenseIdOrNull() ?? "-");
            };
        });
        return app;
    }
}
