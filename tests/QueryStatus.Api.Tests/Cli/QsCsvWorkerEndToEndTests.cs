using System.Text;
using CsvWorker;
using Microsoft.Extensions.DependencyInjection;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Api.Tests.Worker;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Cli;

/// <summary>
/// The whole path with the CSV worker sample: <c>qs submit</c> → the sample's handler on QueryStatus.Worker →
/// <c>qs status --wait</c> → <c>qs rows --format csv</c>, whose output must equal the CSV computed straight from the
/// dataset file (its lines filtered and cut to the fields asked for), without going through JSON at all.
/// </summary>
public sealed class QsCsvWorkerEndToEndTests
{
    private const string From = "2026-03-01";
    private const string To = "2026-03-10";
    private static readonly string[] Fields = ["date", "campaign", "ad_group", "device", "clicks", "cost"];

    /// <summary>One generated dataset for these tests (its own file: the sample's tests generate theirs).</summary>
    private static readonly Lazy<string> Dataset = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"qs-cli-tests-{Environment.ProcessId}", "ad-stats.csv");
        AdStatsDataset.Generate(path);
        return path;
    });

    /// <summary>The expected CSV: header, then each dataset line of the range in Germany, cut to <see cref="Fields"/>.</summary>
    private static string ExpectedCsv()
    {
        var lines = File.ReadAllLines(Dataset.Value);
        var columns = lines[0].Split(',');
        var picked = Fields.Select(f => Array.IndexOf(columns, f)).ToArray();
        var (date, country) = (Array.IndexOf(columns, "date"), Array.IndexOf(columns, "country"));
        var csv = new StringBuilder(string.Join(',', Fields)).Append("\r\n");
        foreach (var line in lines.Skip(1))
        {
            var record = line.Split(',');
            if (string.CompareOrdinal(record[date], From) >= 0 && string.CompareOrdinal(record[date], To) <= 0 && record[country] == "DE")
            {
                csv.Append(string.Join(',', picked.Select(i => record[i]))).Append("\r\n");
            }
        }
        return csv.ToString();
    }

    [Fact]
    public async Task SubmitWaitAndCsvRowsEqualTheRowsReadStraightFromTheDataset()
    {
        using var factory = new QueryStatusFactory();
        var qs = new Qs(factory);
        var scheduleId = TestData.NewScheduleId("cli_e2e");
        var fields = string.Join(",", Fields.Select(f => $"\"{f}\""));
        var payload = $"{{\"date_from\":\"{From}\",\"date_to\":\"{To}\",\"fields\":[{fields}],\"filters\":{{\"country\":\"DE\"}}}}";

        var submitted = await qs.RunWithInputAsync(SubmitBody(scheduleId, [payload]), "submit", "-");
        // Ten days, at most four a task: the submitted sub-query splits into 1–4, 5–8 and 9–10 March.
        await using var worker = await WorkerHarness.StartAsync<AdStatsHandler>(factory,
            o => (o.BatchRows, o.BatchBytes) = (50, 64 * 1024),
            s => s.AddOptions<CsvDatasetOptions>().Configure(d => (d.Path, d.MaxDaysPerTask) = (Dataset.Value, 4)));
        var waited = await qs.RunAsync("status", scheduleId, "--wait");
        var csv = await qs.RunAsync("rows", scheduleId, "--format", "csv", "--page-size", "100");
        var jsonl = await qs.RunAsync("rows", scheduleId);

        Assert.Equal(0, submitted.ExitCode);
        Assert.Equal(scheduleId, Assert.Single(submitted.StdoutLines));
        Assert.True(waited.ExitCode == 0, waited.ToString());
        Assert.Contains("SUCCESS 4/4", waited.StdoutLines);
        Assert.Contains("total_rows   480", waited.StdoutLines); // 10 days × 8 campaigns × 2 ad groups × 3 devices
        Assert.True(csv.ExitCode == 0, csv.ToString());
        Assert.Equal(ExpectedCsv(), csv.Stdout);
        Assert.Equal(481, csv.Stdout.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        // And jsonl: the very bytes the worker built from the file, one a line.
        var sent = await AdStatsQuery.Parse(Parse(payload)).ReadMatchingRowsAsync(Dataset.Value);
        Assert.Equal(string.Concat(sent.Select(r => r + "\n")), jsonl.Stdout);
    }
}
