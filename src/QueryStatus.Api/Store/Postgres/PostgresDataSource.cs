using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>The store's one <see cref="NpgsqlDataSource"/>: the operator's connection string, with our timeouts where it names none.</summary>
public static class PostgresDataSource
{
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

    public static NpgsqlDataSource Build(string connectionString, ILoggerFactory loggerFactory)
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
