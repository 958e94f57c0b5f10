using Microsoft.Extensions.DependencyInjection.Extensions;

namespace QueryStatus.Api.Store;

public static class StoreExtensions
{
    public static IServiceCollection AddScheduleStore(this IServiceCollection services)
    {
        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IScheduleStore, InMemoryScheduleStore>();
        services.AddHostedService<SeedLoader>();
        services.AddHostedService<ExpirySweeper>();
        return services;
    }
}
