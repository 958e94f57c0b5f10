using Serilog;
using Serilog.Extensions.Logging;

namespace QueryStatus.Api.Observability;

public static class LoggingExtensions
{
    /// <summary>
    /// The framework's logger factory with Serilog as its one provider, Serilog configured from the "Serilog" section
    /// plus any <see cref="Serilog.Core.ILogEventSink"/> registered in DI (tests capture logs that way). The framework's
    /// factory keeps one logger per category (authentication handlers are created per request and each asks for one);
    /// Serilog's own factory would build a new one each time. Levels are Serilog's (the framework's filter lets
    /// everything through to it), except the hosting layer's request diagnostics, which are off (see below). The static
    /// logger is left alone: several hosts in one process (test servers) would otherwise fight over it.
    /// </summary>
    public static WebApplicationBuilder AddQueryStatusLogging(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<Serilog.ILogger>(services => new LoggerConfiguration()
            .ReadFrom.Configuration(builder.Configuration)
            .ReadFrom.Services(services)
            .Enrich.FromLogContext()
            .CreateLogger());
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<ILoggerProvider>(services =>
            new SerilogLoggerProvider(services.GetRequiredService<Serilog.ILogger>(), dispose: false));
        builder.Logging.SetMinimumLevel(LogLevel.Trace);

        // The hosting layer's "Request starting/finished" lines print the full URL, api_key included, and our request
        // line replaces them. While its logger is enabled at all, the hosting layer also opens a logging scope and starts
        // an Activity for every request, which nothing here reads: the category is off entirely.
        builder.Logging.AddFilter(HostingDiagnosticsCategory, LogLevel.None);
        return builder;
    }

    public const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Request id and one structured line per request (<see cref="RequestIdMiddleware"/>). The query string is
    /// left out on purpose: it can carry api_key.
    /// </summary>
    public static IApplicationBuilder UseQueryStatusRequestLogging(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestIdMiddleware>();
}
