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

    /// <summary>
    /// <c>--baseline-holds-data</c>: the baseline holds as much memory as loading the data added to QueryStatus's resident
    /// size, so that the two differ in code only and not in what they hold (an experiment; off by default).
    /// </summary>
    public bool BaselineHoldsData { get; private set; }
    public HashSet<string>? Only { get; private set; }
    public string? Markdown { get; private set; }

    /// <summary><c>--store postgres</c>: the service on PostgreSQL against the service on the in-memory store, side by side.</summary>
    public bool Postgres { get; private set; }

    /// <summary>Extra PostgreSQL settings (<c>--pg-setting fsync=off</c>), for experiments; durability stays at the defaults otherwise.</summary>
    public List<string> PostgresSettings { get; } = [];

    /// <summary><c>--pg-connection "Max Auto Prepare=20"</c>: Npgsql keywords added to the service's connection string, for experiments.</summary>
    public string? PostgresConnectionOptions { get; private set; }

    /// <summary><c>--pg-log FILE</c>: where to copy the PostgreSQL server's log before the cluster is removed.</summary>
    public string? PostgresLog { get; private set; }

    /// <summary>Rows of each result ingested against COPY, and read back against COPY (PostgreSQL only).</summary>
    public long IngestRows { get; private set; } = 1_000_000;

    /// <summary>Minutes of soak load (0: the usual benchmark instead).</summary>
    public int SoakMinutes { get; private set; }
    public TimeSpan SoakRetention { get; private set; } = TimeSpan.FromMinutes(1);
    public TimeSpan SoakSweep { get; private set; } = TimeSpan.FromSeconds(10);

    /// <summary>Rounds of the wake-up benchmark (0: not that benchmark).</summary>
    public int WakeupRounds { get; private set; }

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
                case "--baseline-holds-data":
                    o.BaselineHoldsData = true;
                    break;
                case "--markdown":
                    o.Markdown = Next();
                    break;
                case "--store":
                    o.Postgres = Next() switch
                    {
                        "postgres" => true,
                        "memory" => false,
                        var other => throw new BenchException($"--store takes memory (the default) or postgres, not {other}"),
                    };
                    break;
                case "--pg-setting":
                    var pgSetting = Next();
                    if (pgSetting.IndexOf('=', StringComparison.Ordinal) <= 0)
                    {
                        throw new BenchException("--pg-setting takes NAME=VALUE (a PostgreSQL setting, e.g. synchronous_commit=off)");
                    }
                    o.PostgresSettings.Add(pgSetting);
                    break;
                case "--pg-connection":
                    o.PostgresConnectionOptions = Next();
                    break;
                case "--pg-log":
                    o.PostgresLog = Next();
                    break;
                case "--ingest-rows":
                    o.IngestRows = long.Parse(Next(), CultureInfo.InvariantCulture);
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
                case "--wakeups":
                    o.WakeupRounds = int.Parse(Next(), CultureInfo.InvariantCulture);
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
        if (o.IngestRows < 100_000 || o.IngestRows % 100_000 != 0)
        {
            throw new BenchException("--ingest-rows must be a multiple of 100,000");
        }
        if (!o.Postgres && (o.PostgresSettings.Count > 0 || o.PostgresLog is not null || o.PostgresConnectionOptions is not null
                || args.Contains("--ingest-rows")))
        {
            throw new BenchException("--pg-setting, --pg-connection, --pg-log and --ingest-rows go with --store postgres");
        }
        if (o.Postgres && o.LongPollQueries > 0)
        {
            throw new BenchException("--long-poll runs on the in-memory store only (not with --store postgres)");
        }
        return o;
    }

    public const string Usage =
        "usage: bench/run.sh [--quick] [--slice SECONDS] [--pairs N] [--warmup SECONDS] [--connections N]\n" +
        "                    [--big-rows N] [--only scenario,...] [--no-write] [--markdown FILE]\n" +
        "                    [--qs-setting NAME=VALUE]... [--baseline-holds-data]\n" +
        "       bench/run.sh --store postgres [the options above] [--pg-setting NAME=VALUE]... [--pg-connection KEYWORDS]\n" +
        "                    [--pg-log FILE] [--ingest-rows N]\n" +
        "       bench/run.sh --soak MINUTES [--soak-retention 00:01:00] [--soak-sweep 00:00:10] [--markdown FILE] [--qs-setting ...]\n" +
        "                    [--store postgres [--pg-setting ...] [--pg-connection ...]]   the soak with the service on PostgreSQL\n" +
        "       bench/run.sh --long-poll QUERIES [--markdown FILE]\n" +
        "       bench/run.sh --wakeups ROUNDS   wake-up latency of a waiting lease across two instances on PostgreSQL\n" +
        "  --long-poll requests per finished query (10-60 s queries): polling every second vs long-polls, QUERIES per group (~70 s)\n" +
        "  --soak      sustained traffic for MINUTES (clients, workers, stops, expiry), memory sampled every 10 s; exits 1 unless\n" +
        "              RSS stays flat, nothing is lost and the store gives everything back (see bench/RESULTS.md)\n" +
        "  --quick     2 s slices, 1 pair, a 200,000-row big result, 1 write slice (to try it out)\n" +
        "  default     10 s slices, 3 pairs (A B, B A, A B), a 10,000,000-row big result, 3 write slices\n" +
        "  --qs-setting  an extra environment variable for QueryStatus, for experiments (e.g. Serilog__MinimumLevel__Default=Warning)\n" +
        "  --baseline-holds-data  the baseline holds as much memory as loading the data added to QueryStatus (resident size),\n" +
        "              so that the ratios compare code only: on this VM a large resident size costs every request (an experiment)\n" +
        "  --store postgres  the service on PostgreSQL (a throwaway cluster the run starts on 127.0.0.1: initdb in a temporary\n" +
        "              folder, as user postgres under root, durability at PostgreSQL's defaults, removed afterwards) against the\n" +
        "              service on the in-memory store, in alternating slices (A = PostgreSQL, B = in-memory; no baseline); then\n" +
        "              ingest through the API against COPY FROM STDIN, reading a whole result page by page against COPY TO STDOUT\n" +
        "              (--ingest-rows each, default 1,000,000, also with --quick; one uncounted round of each side first), and\n" +
        "              database round trips per status poll\n" +
        "  --pg-setting  a PostgreSQL setting for the cluster (-c NAME=VALUE), for experiments (e.g. synchronous_commit=off)\n" +
        "  --pg-connection  Npgsql keywords added to the service's connection string, for experiments (e.g. \"Max Auto Prepare=20\")\n" +
        "  --pg-log    copy the PostgreSQL server's log to FILE before the cluster is removed (e.g. with auto_explain settings)\n" +
        "  scenarios   running-apikey running-jwt page-100 page-10k page-big-last page-big-last-vs-first\n" +
        "              (--store postgres also: round-trips ingest-vs-copy readback-vs-copy tasks; readback-vs-copy needs ingest-vs-copy)";
}
