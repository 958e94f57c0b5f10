using Microsoft.Extensions.DependencyInjection.Extensions;

namespace QueryStatus.Api.Store;

public static class StoreExtensions
{
    public static IServiceCollection AddScheduleStore(this IServiceCollection services)
    {
        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SchedulerOptions>().BindConfiguration(SchedulerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<LicensesOptions>().BindConfiguration(LicensesOptions.Section)
            .Validate(licenses => licenses.Values.All(l => l.MaxConcurrentTasks is null or >= 1),
                "Licenses:<id>:MaxConcurrentTasks must be at least 1.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IScheduleStore, InMemoryScheduleStore>();
        services.AddSingleton<StoreMetrics>();
        services.AddHostedService<SeedLoader>();
        services.AddHostedService<ExpirySweeper>();
        return services;
    }
}
