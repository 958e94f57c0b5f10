using System.Globalization;
using System.Text;

namespace CsvWorker;

/// <summary>
/// The sample dataset: daily ad statistics, one row per day × campaign × ad group × country × device (365 days × 288 =
/// 105,120 rows, about 7 MB), generated from a fixed seed so every machine gets the same file byte for byte. Sorted by
/// date. Columns: <see cref="Columns"/>.
/// </summary>
public static class AdStatsDataset
{
    public const ulong DefaultSeed = 20_261_101;

    public static readonly DateOnly FirstDay = new(2026, 1, 1);
    public const int Days = 365;

    public static readonly IReadOnlyList<string> Columns = ["date", "campaign", "ad_group", "country", "device", "impressions", "clicks", "cost"];

    /// <summary>Columns holding numbers (written as JSON numbers); the others are text.</summary>
    public static readonly IReadOnlySet<string> NumericColumns = new HashSet<string>(["impressions", "clicks", "cost"], StringComparer.Ordinal);

    public static readonly IReadOnlyList<string> Campaigns =
        ["brand_search", "generic_search", "shopping_feed", "display_retargeting", "video_awareness", "summer_sale", "app_installs", "competitor_terms"];

    public const int AdGroupsPerCampaign = 2;

    public static readonly IReadOnlyList<string> Countries = ["US", "DE", "FR", "GB", "JP", "BR"];

    public static readonly IReadOnlyList<string> Devices = ["desktop", "mobile", "tablet"];

    public static int RowsPerDay => Campaigns.Count * AdGroupsPerCampaign * Countries.Count * Devices.Count;

    public static int RowCount => Days * RowsPerDay;

    /// <summary>Generates the file at <paramref name="path"/> unless it exists. Safe to call from several processes at once.</summary>
    public static bool EnsureExists(string path, ulong seed = DefaultSeed)
    {
        if (File.Exists(path))
        {
            return false;
        }
        Generate(path, seed);
        return true;
    }

    /// <summary>Writes the dataset to <paramref name="path"/> (through a temporary file, so readers never see half of it).</summary>
    public static void Generate(string path, ulong seed = DefaultSeed)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var writer = new StreamWriter(temporary, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 1 << 16))
            {
                writer.NewLine = "\n";
                Write(writer, seed);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Writes the dataset as CSV (header first) to <paramref name="writer"/>.</summary>
    public static void Write(TextWriter writer, ulong seed = DefaultSeed)
    {
        var random = new SplitMix64(seed);
        writer.WriteLine(string.Join(',', Columns));
        var line = new StringBuilder(96);
        for (var day = 0; day < Days; day++)
        {
            var date = FirstDay.AddDays(day).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            // Weekends are quieter; the year has a slow seasonal swing.
            var dayOfWeek = FirstDay.AddDays(day).DayOfWeek;
            var dayFactor = (dayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday ? 0.7 : 1.0) * (1 + 0.3 * Math.Sin(day / 365.0 * 2 * Math.PI));
            foreach (var campaign in Campaigns)
            {
                for (var group = 1; group <= AdGroupsPerCampaign; group++)
                {
                    foreach (var country in Countries)
                    {
                        foreach (var device in Devices)
                        {
                            var impressions = (long)(random.Between(50, 20_000) * dayFactor);
                            var clicks = (long)Math.Round(impressions * random.Between(0.002, 0.08));
                            var cost = Math.Round((decimal)(clicks * random.Between(0.05, 3.0)), 2);
                            line.Clear()
                                .Append(date).Append(',')
                                .Append(campaign).Append(',')
                                .Append(campaign).Append('_').Append(group).Append(',')
                                .Append(country).Append(',')
                                .Append(device).Append(',')
                                .Append(impressions.ToString(CultureInfo.InvariantCulture)).Append(',')
                                .Append(clicks.ToString(CultureInfo.InvariantCulture)).Append(',')
                                .Append(cost.ToString("0.00", CultureInfo.InvariantCulture));
                            writer.WriteLine(line);
                        }
                    }
                }
            }
        }
    }

    /// <summary>A tiny PRNG with a fixed algorithm (System.Random's sequence is not promised across versions).</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [min, max).</summary>
        public double Between(double min, double max) => min + (Next() >> 11) * (1.0 / (1UL << 53)) * (max - min);
    }
}
