using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using QueryStatus.Worker;

namespace CsvWorker;

public static class CsvWorkerServiceCollectionExtensions
{
    /// <summary>The CSV worker: <see cref="AdStatsHandler"/> on QueryStatus.Worker, configured from <c>QueryStatus</c> and <c>Dataset</c>.</summary>
    public static IHttpClientBuilder AddCsvWorker(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CsvDatasetOptions>()
            .Bind(configuration.GetSection("Dataset"))
            .Validate(o => !string.IsNullOrWhiteSpace(o.Path), "Dataset:Path: required.")
            .Validate(o => o.MaxDaysPerTask is >= 1 and <= 366, "Dataset:MaxDaysPerTask: must be 1–366.")
            .ValidateOnStart();
        return services.AddQueryStatusWorker<AdStatsHandler>(o => configuration.GetSection("QueryStatus").Bind(o));
    }

    /// <summary>Generates the dataset when its file is missing; answers whether it did.</summary>
    public static bool EnsureDataset(this IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<CsvDatasetOptions>>().Value;
        return AdStatsDataset.EnsureExists(options.FullPath, options.Seed);
    }
}
