namespace QueryStatus.Api.Errors;

public static class ErrorHandlingExtensions
{
    public static IServiceCollection AddErrorEnvelope(this IServiceCollection services)
    {
        services.AddExceptionHandler<EnvelopeExceptionHandler>();
        // Binding failures only reach the exception handler when the framework throws them; it does so by
        // default in Development only, and we want the same envelope in every environment.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }

    /// <summary>Exceptions become the envelope. Must come before everything that can throw.</summary>
    public static IApplicationBuilder UseErrorEnvelope(this IApplicationBuilder app) =>
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // Only reached if no IExceptionHandler took the exception; the framework never writes a body of its own.
            ExceptionHandler = context => ErrorEnvelope.WriteAsync(context, StatusCodes.Status500InternalServerError),
        });

    /// <summary>
    /// Body-less failure statuses (401/403 from auth, 404 unknown route, 405) become the envelope. Must come
    /// before everything that can answer with one.
    /// </summary>
    public static IApplicationBuilder UseStatusCodeEnvelope(this IApplicationBuilder app)
    {
        app.UseStatusCodePages(context =>
        {
            var http = context.HttpContext;
            return ErrorEnvelope.WriteAsync(http, http.Response.StatusCode, ErrorDetail.Get(http) ?? DefaultDescription(http));
        });
        return app;
    }

    private static string? DefaultDescription(HttpContext context) => context.Response.StatusCode switch
    {
        StatusCodes.Status404NotFound => $"No endpoint matches {context.Request.Path}.",
        StatusCodes.Status405MethodNotAllowed =>
            $"{context.Request.Method} is not supported here; allowed: {context.Response.Headers.Allow}.",
        StatusCodes.Status415UnsupportedMediaType => "Send the request body as application/json.",
        _ => null,
    };
}
