using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using QueryStatus.Api.Store.Postgres;

namespace QueryStatus.Api.Store;

public static class StoreExtensions
{
    public const string ConnectionStringName = "QueryStatus";

    public static IServiceCollection AddScheduleStore(this IServiceCollection services)
    {
        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.Section)
            .Configure<IConfiguration>((options, configuration) => options.ConnectionString = configuration.GetConnectionString(ConnectionStringName))
            // "postgres" and "inmemory" mean what they say; the names as written here are the canonical ones.
            .PostConfigure(options => options.Provider =
                string.Equals(options.Provider, StoreOptions.PostgresProvider, StringComparison.OrdinalIgnoreCase) ? StoreOptions.PostgresProvider
                : string.Equals(options.Provider, StoreOptions.InMemoryProvider, StringComparison.OrdinalIgnoreCase) ? StoreOptions.InMemoryProvider
                : options.Provider)
            .ValidateDataAnnotations()
            .Validate(o => o.Provider is StoreOptions.InMemoryProvider or StoreOptions.PostgresProvider,
                $"Store:Provider must be {StoreOptions.InMemoryProvider} (the default) or {StoreOptions.PostgresProvider}.")
            .Validate(o => o.Provider != StoreOptions.PostgresProvider || !string.IsNullOrWhiteSpace(o.ConnectionString),
                $"Store:Provider is {StoreOptions.PostgresProvider}, so ConnectionStrings:{ConnectionStringName} must hold the Npgsql connection string.")
            .Validate(o => o.Postgres.PageCacheMegabytes >= 0, "Store:Postgres:PageCacheMegabytes must be 0 (no pages kept) or more.")
            .ValidateOnStart();
        services.AddOptions<SchedulerOptions>().BindConfiguration(SchedulerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<LicensesOptions>().BindConfiguration(LicensesOptions.Section)
            .Validate(licenses => licenses.Values.All(l => l.MaxConcurrentTasks is null or >= 1),
                "Licenses:<id>:MaxConcurrentTasks must be at least 1.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton<ScheduleChanges>();
        // Both stores are registered; Store:Provider picks the one the service uses (the other is never built).
        services.AddSingleton<InMemoryScheduleStore>();
        services.AddSingleton(sp => PostgresDataSource.Build(
            sp.GetRequiredService<IOptions<StoreOptions>>().Value.ConnectionString!, sp.GetRequiredService<ILoggerFactory>()));
        services.AddKeyedSingleton(PostgresDataSource.Sessions, (sp, _) => PostgresDataSource.BuildSessions(
            sp.GetRequiredService<IOptions<StoreOptions>>().Value.ConnectionString!, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<PostgresWakeups>();
        services.AddSingleton(sp => new PostgresScheduleStore(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<StoreOptions>>(),
            sp.GetRequiredService<IOptions<SchedulerOptions>>(),
            sp.GetRequiredService<IOptions<LicensesOptions>>(),
            sp.GetRequiredService<PostgresWakeups>(),
            sp.GetRequiredService<IMeterFactory>()));
        services.AddSingleton<IScheduleStore>(sp => sp.GetRequiredService<IOptions<StoreOptions>>().Value.Provider == StoreOptions.PostgresProvider
            ? sp.GetRequiredService<PostgresScheduleStore>()
            : sp.GetRequiredService<InMemoryScheduleStore>());

        services.AddSingleton<StoreMetrics>();
        // Before the seed loader: the schema and the wake-up connection must exist before anything is stored.
        services.AddHostedService<PostgresStartup>();
        services.AddHostedService<SeedLoader>();
        services.AddHostedService<ExpirySweeper>();
        return services;
    }
}
