using System.Collections.Concurrent;

namespace QueryStatus.Api.Observability;

/// <summary>
/// Hands out one logger per category. Serilog's <see cref="ILoggerFactory"/> builds a new logger (a Serilog
/// <c>ForContext</c> with its level-override lookup) on every <see cref="CreateLogger"/>; authentication
/// handlers are created per request and each asks for one, so every request paid for several. Loggers keep
/// no per-request state, so sharing one per category changes nothing else. Categories are type names: few.
/// </summary>
public sealed class CachingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    /// <summary>
    /// The hosting layer's request diagnostics. Its "Request starting/finished" lines print the full URL, api_key
    /// included, at whatever level someone turns on, and our request line replaces them. While its logger is
    /// enabled at all, the hosting layer also opens a logging scope and starts an Activity for every request,
    /// which nothing here reads: it gets a logger that is never enabled.
    /// </summary>
    public const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public ILogger CreateLogger(string categoryName) =>
        _loggers.TryGetValue(categoryName, out var logger) ? logger : _loggers.GetOrAdd(categoryName, Create(categoryName));

    private ILogger Create(string categoryName) =>
        categoryName == HostingDiagnosticsCategory
            ? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance
            : inner.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    /// <summary>Wraps the last <see cref="ILoggerFactory"/> registration (Serilog's) in the cache.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var descriptor = services.LastOrDefault(d => d.ServiceType == typeof(ILoggerFactory) && !d.IsKeyedService)
            ?? throw new InvalidOperationException("No ILoggerFactory is registered to decorate.");
        services.Remove(descriptor);
        services.AddSingleton<ILoggerFactory>(provider => new CachingLoggerFactory(descriptor switch
        {
            { ImplementationInstance: ILoggerFactory instance } => instance,
            { ImplementationFactory: { } factory } => (ILoggerFactory)factory(provider),
            _ => (ILoggerFactory)ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!),
        }));
    }
}
