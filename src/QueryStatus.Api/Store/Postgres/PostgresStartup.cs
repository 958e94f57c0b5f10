using Microsoft.Extensions.Options;
using Npgsql;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// With <c>Store:Provider</c> = <c>Postgres</c>, before the server takes requests: migrates the schema (unless
/// <c>Store:Postgres:Migrate</c> is false) and opens the wake-up connection. A database that cannot be reached fails
/// start-up. Nothing with the in-memory store.
/// </summary>
public sealed class PostgresStartup(IOptions<StoreOptions> options, IServiceProvider services, ILogger<PostgresStartup> logger)
    : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Provider != StoreOptions.PostgresProvider)
        {
            return;
        }
        if (options.Value.Postgres.Migrate)
        {
            var applied = await PostgresMigrator.MigrateAsync(services.GetRequiredKeyedService<NpgsqlDataSource>(PostgresDataSource.Sessions), logger, cancellationToken);
            logger.LogInformation("PostgreSQL schema up to date ({Applied} scripts applied now)", applied.Count);
        }
        await services.GetRequiredService<PostgresWakeups>().StartAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
