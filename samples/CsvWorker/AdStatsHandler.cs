using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using QueryStatus.Worker;

namespace CsvWorker;

/// <summary>Where the dataset lives and how big a task may be (configuration section <c>Dataset</c>).</summary>
public sealed class CsvDatasetOptions
{
    /// <summary>The CSV file; a relative path is taken from the app's directory. Generated there on first run when missing.</summary>
    public string Path { get; set; } = "data/ad-stats.csv";

    /// <summary>The generator's seed: the same seed gives the same file.</summary>
    public ulong Seed { get; set; } = AdStatsDataset.DefaultSeed;

    /// <summary>A sub-query over more days than this is split into sub-queries of at most this many days (1–366).</summary>
    public int MaxDaysPerTask { get; set; } = 31;

    public string FullPath => System.IO.Path.IsPathRooted(Path) ? Path : System.IO.Path.Combine(AppContext.BaseDirectory, Path);
}

/// <summary>
/// Serves one sub-query (see <see cref="AdStatsQuery"/> for the payload): streams the CSV and sends the matching rows. A
/// range longer than <see cref="CsvDatasetOptions.MaxDaysPerTask"/> is not read here: it completes at once with the
/// range split into new sub-queries, which any worker then serves in parallel.
/// </summary>
public sealed class AdStatsHandler(IOptions<CsvDatasetOptions> options, ILogger<AdStatsHandler> logger) : ITaskHandler
{
    public async Task ExecuteAsync(WorkerTask task, IRowSink rows, CancellationToken cancellationToken)
    {
        AdStatsQuery query;
        try
        {
            query = AdStatsQuery.Parse(task.Payload);
        }
        catch (AdStatsQueryException e)
        {
            throw new TaskFailureException("INVALID_SUBQUERY", e.Message);
        }

        var dataset = options.Value;
        if (query.DayCount > dataset.MaxDaysPerTask)
        {
            var parts = query.SplitByDays(dataset.MaxDaysPerTask);
            foreach (var part in parts)
            {
                rows.AddRawSubQuery(part.ToJson());
            }
            logger.LogInformation("Split {From}..{To} into {Parts} sub-queries of at most {Days} days",
                Iso(query.DateFrom), Iso(query.DateTo), parts.Count, dataset.MaxDaysPerTask);
            return;
        }

        StreamReader reader;
        try
        {
            reader = new StreamReader(new FileStream(dataset.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true));
        }
        catch (IOException e)
        {
            // Missing or locked (being regenerated): worth another attempt, perhaps on another worker.
            throw new RetryableTaskException("DATASET_UNAVAILABLE", "The worker could not open its dataset.", e);
        }

        using (reader)
        {
            try
            {
                await foreach (var row in query.ReadMatchingRowsAsync(reader, cancellationToken))
                {
                    await rows.AddRawAsync(row, cancellationToken);
                }
            }
            catch (InvalidDataException e)
            {
                throw new TaskFailureException("DATASET_ERROR", e.Message, retryable: false, e);
            }
        }
        logger.LogInformation("Task {TaskId}: {Rows} rows for {From}..{To}", task.TaskId, rows.RowCount, Iso(query.DateFrom), Iso(query.DateTo));
    }

    private static string Iso(DateOnly date) => date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
}
