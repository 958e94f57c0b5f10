using DbUp;
using DbUp.Postgresql;
using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// Brings a database's schema up to date with the scripts in <c>Store/Postgres/Migrations</c> (embedded, applied in
/// name order, each once, in its own transaction; DbUp records them in <c>schema_versions</c>).
/// </summary>
/// <remarks>
/// Instances that start together must not run a script twice: each takes a PostgreSQL advisory lock for the whole
/// upgrade, so the first migrates and the others, once they get the lock, find nothing left to do. The lock belongs to
/// the migrator's session: released when it is done, failed or not, and by the server if the process dies.
/// </remarks>
public static class PostgresMigrator
{
    /// <summary>The advisory lock's key: any fixed number no other lock of this database uses ("QSmigrat").</summary>
    public const long LockKey = 0x51536D6967726174;

    public const string JournalTable = "schema_versions";

    private const string ScriptFolder = ".Store.Postgres.Migrations.";

    /// <summary>The names of the scripts this build knows, in the order they apply.</summary>
    public static IReadOnlyList<string> Scripts { get; } = typeof(PostgresMigrator).Assembly.GetManifestResourceNames()
        .Where(name => name.Contains(ScriptFolder, StringComparison.Ordinal))
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>Applies every script not applied yet; returns the names of those this call applied.</summary>
    /// <exception cref="StoreUnavailableException">The database cannot be reached or a script fails.</exception>
    public static async Task<IReadOnlyList<string>> MigrateAsync(NpgsqlDataSource dataSource, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock($1)", lockConnection))
            {
                take.Parameters.Add(new NpgsqlParameter { Value = LockKey });
                await take.ExecuteNonQueryAsync(cancellationToken);
            }

            try
            {
                var upgrader = DeployChanges.To
                    .PostgresqlDatabase(new PostgresqlConnectionManager(dataSource))
                    .WithScriptsEmbeddedInAssembly(typeof(PostgresMigrator).Assembly, name => name.Contains(ScriptFolder, StringComparison.Ordinal))
                    .JournalToPostgresqlTable("public", JournalTable)
                    .WithTransactionPerScript()
                    .LogTo(logger)
                    .Build();
                // DbUp runs synchronously; start-up waits for it anyway.
                var result = await Task.Run(upgrader.PerformUpgrade, cancellationToken);
                if (!result.Successful)
                {
                    throw new StoreUnavailableException(
                        $"Migrating the PostgreSQL schema failed at {result.ErrorScript?.Name ?? "an unknown script"}.", result.Error);
                }
                return result.Scripts.Select(script => script.Name).ToList();
            }
            finally
            {
                await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", lockConnection);
                release.Parameters.Add(new NpgsqlParameter { Value = LockKey });
                await release.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        catch (NpgsqlException e)
        {
            throw new StoreUnavailableException("The PostgreSQL database could not be reached to migrate its schema.", e);
        }
    }
}
