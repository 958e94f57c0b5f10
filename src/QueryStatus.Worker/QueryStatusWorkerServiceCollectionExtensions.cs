using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace QueryStatus.Worker;

public static class QueryStatusWorkerServiceCollectionExtensions
{
    /// <summary>
    /// Runs a worker in this host: a hosted service that leases tasks and runs each through <typeparamref name="THandler"/>
    /// (scoped: one instance per task). <paramref name="configure"/> sets <see cref="QueryStatusWorkerOptions"/> (also
    /// configurable with <c>services.Configure&lt;QueryStatusWorkerOptions&gt;</c>); they are validated at start-up.
    /// Returns the builder of the worker's HttpClient (IHttpClientFactory) to add handlers or replace the primary one
    /// (its default request logging is removed: it would put the credential in structured log state).
    /// One worker per host.
    /// </summary>
    public static IHttpClientBuilder AddQueryStatusWorker<THandler>(
        this IServiceCollection services, Action<QueryStatusWorkerOptions>? configure = null)
        where THandler : class, ITaskHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        var optionsBuilder = services.AddOptions<QueryStatusWorkerOptions>();
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }
        optionsBuilder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<QueryStatusWorkerOptions>, QueryStatusWorkerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddScoped<THandler>();
        services.AddHostedService<QueryStatusWorkerService<THandler>>();

        return services.AddHttpClient<TaskApiClient>((provider, http) =>
        {
            var options = provider.GetRequiredService<IOptions<QueryStatusWorkerOptions>>().Value;
            if (Uri.TryCreate(options.BaseUrl, UriKind.Absolute, out var baseUrl))
            {
                http.BaseAddress = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
            }
            // A lease call may wait LeaseWaitSeconds on the server before it answers.
            http.Timeout = TimeSpan.FromSeconds(options.LeaseWaitSeconds + 60);
        })
        // The factory's default HTTP logging redacts header values in its messages but hands them unredacted to
        // structured-logging sinks in its state at Trace level: the credential must never reach a log, so it is off.
        // The worker logs its own calls (Debug) and every failure instead.
        .RemoveAllLoggers();
    }
}
