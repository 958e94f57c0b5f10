using System.Globalization;

namespace QueryStatus.Bench;

/// <summary>Command line: <c>[--quick] [--slice S] [--pairs N] [--big-rows N] [--only a,b] [--no-write] [--markdown FILE]</c>.</summary>
public sealed class Options
{
    public bool Quick { get; private set; }
    public int SliceSeconds { get; private set; } = 10;
    public int Pairs { get; private set; } = 3;
    public int WarmupSeconds { get; private set; } = 5;
    public int Connections { get; private set; } = 64;
    public long BigRows { get; private set; } = 10_000_000;
    public int MidRows { get; private set; } = 20_000;
    public int WriteSlices { get; private set; } = 3;
    public bool WriteSide { get; private set; } = true;
    public HashSet<string>? Only { get; private set; }
    public string? Markdown { get; private set; }

    /// <summary>Minutes of soak load (0: the usual benchmark instead).</summary>
    public int SoakMinutes { get; private set; }
    public TimeSpan SoakRetention { get; private set; } = TimeSpan.FromMinutes(1);
    public TimeSpan SoakSweep { get; private set; } = TimeSpan.FromSeconds(10);

    /// <summary>Queries per client group of the long-poll benchmark (0: not that benchmark).</summary>
    public int LongPollQueries { get; private set; }

    /// <summary>Extra settings for QueryStatus (environment variables, e.g. Serilog__MinimumLevel__Default=Warning), for experiments.</summary>
    public Dictionary<string, string> QueryStatusSettings { get; } = [];
    public string CommandLine { get; private set; } = "";

    public static Options Parse(string[] args)
    {
        var o = new Options { CommandLine = string.Join(' ', args) };
        // --quick first, so that explicit values given with it win.
        if (args.Contains("--quick"))
        {
            o.Quick = true;
            o.SliceSeconds = 2;
            o.Pairs = 1;
            o.WarmupSeconds = 1;
            o.BigRows = 200_000;
            o.WriteSlices = 1;
        }
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new BenchException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--slice":
                    o.SliceSeconds = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--pairs":
                    o.Pairs = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--warmup":
                    o.WarmupSeconds = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--connections":
                    o.Connections = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--big-rows":
                    o.BigRows = long.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--only":
                    o.Only = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                case "--no-write":
                    o.WriteSide = false;
                    break;
                case "--markdown":
                    o.Markdown = Next();
                    break;
                case "--soak":
                    o.SoakMinutes = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--soak-retention":
                    o.SoakRetention = TimeSpan.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--soak-sweep":
                    o.SoakSweep = TimeSpan.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--long-poll":
                    o.LongPollQueries = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--qs-setting":
                    var setting = Next();
                    var eq = setting.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        throw new BenchException("--qs-setting takes NAME=VALUE (an environment variable, __ for :)");
                    }
                    o.QueryStatusSettings[setting[..eq]] = setting[(eq + 1)..];
                    break;
                case "-h" or "--help":
                    throw new BenchException(Usage);
                default:
                    throw new BenchException($"unknown argument {args[i]}\n{Usage}");
            }
        }
        if (o.LongPollQueries < 0)
        {
            throw new BenchException("--long-poll takes the number of queries per client group (e.g. 30)");
        }
        if (o.SoakMinutes < 0 || o.SoakRetention <= TimeSpan.Zero || o.SoakSweep <= TimeSpan.Zero)
        {
            throw new BenchException("--soak must be ≥ 1 minute, --soak-retention and --soak-sweep positive TimeSpans (00:01:00)");
        }
        if (o.SliceSeconds < 1 || o.Pairs < 1 || o.BigRows < 1000 || o.Connections < 1)
        {
            throw new BenchException("--slice, --pairs, --connections must be ≥ 1 and --big-rows ≥ 1000");
        }
        return o;
    }

    public const string Usage =
        "usage: bench/run.sh [--quick] [--slice SECONDS] [--pairs N] [--warmup SECONDS] [--connections N]\n" +
        "                    [--big-rows N] [--only scenario,...] [--no-write] [--markdown FILE]\n" +
        "                    [--qs-setting NAME=VALUE]...\n" +
        "       bench/run.sh --soak MINUTES [--soak-retention 00:01:00] [--soak-sweep 00:00:10] [--markdown FILE] [--qs-setting ...]\n" +
        "       bench/run.sh --long-poll QUERIES [--markdown FILE]\n" +
        "  --long-poll requests per finished query (10-60 s queries): polling every second vs long-polls, QUERIES per group (~70 s)\n" +
        "  --soak      sustained traffic for MINUTES (clients, workers, stops, expiry), memory sampled every 10 s; exits 1 unless\n" +
        "              RSS stays flat, nothing is lost and the store gives everything back (see bench/RESULTS.md)\n" +
        "  --quick     2 s slices, 1 pair, a 200,000-row big result, 1 write slice (to try it out)\n" +
        "  default     10 s slices, 3 pairs (A B, B A, A B), a 10,000,000-row big result, 3 write slices\n" +
        "  --qs-setting  an extra environment variable for QueryStatus, for experiments (e.g. Serilog__MinimumLevel__Default=Warning)\n" +
        "  scenarios   running-apikey running-jwt page-100 page-10k page-big-last page-big-last-vs-first";
}
