using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// The store's <see cref="NpgsqlDataSource"/>s, both from the operator's one connection string with our defaults where it
/// names none: <see cref="Build"/> for the store's statements (multiplexed), <see cref="BuildSessions"/> for what needs
/// a connection of its own for a while (the wake-up listener, the migration lock).
/// </summary>
public static class PostgresDataSource
{
    /// <summary>The DI key of the data source from <see cref="BuildSessions"/>.</summary>
    public const string Sessions = "QueryStatus.PostgresSessions";

    /// <summary>
    /// Seconds to wait for a connection (Npgsql's default is 15): a database that is down or unreachable turns into a 503
    /// with <c>Retry-After</c> within a few seconds, instead of a request that hangs while clients time out.
    /// </summary>
    public const int ConnectTimeoutSeconds = 5;

    /// <summary>
    /// Seconds a statement may run (Npgsql's default is 30). Our statements touch one run, one license or a bounded batch
    /// and take milliseconds; the longest, numbering a 10,000,000-row result when it succeeds, takes well under a second
    /// (bench/RESULTS.md). A statement still waiting after this is stuck on a dead network, and its request gets a 503.
    /// </summary>
    public const int CommandTimeoutSeconds = 10;

    /// <summary>
    /// Statements Npgsql prepares once per connection after a few uses (its default is none): the status poll's statement
    /// spent 0.65 ms planning for 0.14 ms executing (pg_stat_statements, bench/RESULTS.md), on every poll.
    /// </summary>
    public const int MaxAutoPrepare = 32;

    /// <summary>
    /// Bytes Npgsql gathers before it sends them (its default is 8 KiB). A worker's row batch goes to PostgreSQL as
    /// 64 KiB chunks in one binary COPY; at 8 KiB that was one <c>sendto</c> per 8 KiB (553 per 50,000-row batch,
    /// 4.3 MB), and system calls are most of what moving bytes costs on our hosts. At 128 KiB: 46 per batch. It is
    /// memory per open connection (the pool's, at most <c>Max Pool Size</c>), allocated once.
    /// </summary>
    public const int WriteBufferBytes = 128 * 1024;

    /// <summary>The session setting given to every connection when the connection string has no <c>Options</c>.</summary>
    public const string GenericPlans = "-c plan_cache_mode=force_generic_plan";

    /// <summary>The data source of the store's statements and transactions.</summary>
    public static NpgsqlDataSource Build(string connectionString, ILoggerFactory loggerFactory) =>
        Create(connectionString, loggerFactory, sessions: false);

    /// <summary>
    /// A data source whose connections are each one server session: <c>LISTEN</c> with <c>WaitAsync</c> and session-level
    /// advisory locks need that, and a multiplexed connection is not one (Npgsql refuses <c>Wait</c> on it and may send
    /// its statements through different physical connections).
    /// </summary>
    public static NpgsqlDataSource BuildSessions(string connectionString, ILoggerFactory loggerFactory) =>
        Create(connectionString, loggerFactory, sessions: true);

    private static NpgsqlDataSource Create(string connectionString, ILoggerFactory loggerFactory, bool sessions)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString).UseLoggerFactory(loggerFactory);
        var given = new NpgsqlConnectionStringBuilder(connectionString);
        var settings = builder.ConnectionStringBuilder;
        if (!Names(given, "Timeout"))
        {
            settings.Timeout = ConnectTimeoutSeconds;
        }
        if (!Names(given, "Command Timeout"))
        {
            settings.CommandTimeout = CommandTimeoutSeconds;
        }
        if (!Names(given, "Max Auto Prepare"))
        {
            settings.MaxAutoPrepare = MaxAutoPrepare;
        }
        if (!Names(given, "Write Buffer Size"))
        {
            settings.WriteBufferSize = WriteBufferBytes;
        }
        if (!Names(given, "Options"))
        {
            // A prepared statement is planned once, for any parameters (a generic plan). PostgreSQL's own choice planned
            // the status statement again on every call once autovacuum had analysed the tables (0.8 ms planning for
            // 0.1 ms executing; the poll rate fell from 0.18 to 0.07 of the in-memory store's; bench/RESULTS.md): every
            // statement of the store looks rows up by key or by a partial index, which a generic plan does as well.
            settings.Options = GenericPlans;
        }
        if (sessions)
        {
            settings.Multiplexing = false;
        }
        else if (!Names(given, "Multiplexing"))
        {
            // Statements outside a transaction (the status poll) share physical connections, written and read in batches:
            // bench/RESULTS.md measured PostgreSQL's CPU per poll 133 → 73 µs and the service's poll rate 0.19 → 0.29 of
            // the in-memory store's. A transaction still has its connection to itself.
            settings.Multiplexing = true;
        }
        if (!Names(given, "No Reset On Close"))
        {
            // Npgsql sends DISCARD ALL when a connection goes back to the pool, which also drops its prepared
            // statements. The store leaves no session state behind (no SET, no session locks, no temporary tables:
            // its advisory locks are transaction-scoped), so there is nothing to reset.
            settings.NoResetOnClose = true;
        }
        return builder.Build();
    }

    /// <summary>Whether the string sets <paramref name="keyword"/> (by any of its spellings: the builder lists canonical names).</summary>
    /// <remarks><c>ContainsKey</c> answers whether a keyword is known, not whether it is set.</remarks>
    private static bool Names(NpgsqlConnectionStringBuilder given, string keyword) =>
        given.Keys.Cast<string>().Contains(keyword, StringComparer.OrdinalIgnoreCase);
}
