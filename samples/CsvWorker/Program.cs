using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CsvWorker;

// An explicit Main in a namespace, not top-level statements: a test project may reference this project and the API's,
// and two global Program classes would collide.
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Settings next to the app (appsettings.json, appsettings.{Environment}.json), then environment variables
        // (QueryStatus__ApiKey, ...) and the command line (--QueryStatus:BaseUrl=...).
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddCsvWorker(builder.Configuration);
        using var host = builder.Build();

        var logger = host.Services.GetRequiredService<ILogger<AdStatsHandler>>();
        var dataset = host.Services.GetRequiredService<IOptions<CsvDatasetOptions>>().Value;
        if (!File.Exists(dataset.FullPath))
        {
            logger.LogInformation("Generating the dataset ({Rows} rows, seed {Seed}) at {Path}", AdStatsDataset.RowCount, dataset.Seed, dataset.FullPath);
        }
        host.Services.EnsureDataset();
        logger.LogInformation("Serving sub-queries over {Path}", dataset.FullPath);

        try
        {
            await host.RunAsync();
            return 0;
        }
        catch (OptionsValidationException e)
        {
            logger.LogCritical("Invalid configuration: {Failures}", string.Join(" ", e.Failures));
            return 2;
        }
    }
}
