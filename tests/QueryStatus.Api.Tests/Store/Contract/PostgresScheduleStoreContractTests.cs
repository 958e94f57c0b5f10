using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using QueryStatus.Api.Store;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store.Contract;

/// <summary>The PostgreSQL store against the store contract: each store on a fresh, migrated database of the test server.</summary>
public sealed class PostgresScheduleStoreContractTests : ScheduleStoreContract
{
    private readonly List<IAsyncDisposable> _resources = [];

    protected override IScheduleStore CreateStore(StoreFixtureOptions options) =>
        Task.Run(async () =>
        {
            var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync());
            _resources.Add(dataSource);
            await PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None);
            var wakeups = new PostgresWakeups(dataSource, NullLogger<PostgresWakeups>.Instance);
            _resources.Add(wakeups);
            await wakeups.StartAsync(CancellationToken.None);
            return (IScheduleStore)new PostgresScheduleStore(
                dataSource,
                options.Time,
                Options.Create(options.Store),
                Options.Create(options.Scheduler),
                Options.Create(options.Licenses),
                wakeups);
        }).GetAwaiter().GetResult();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        // Wake-ups before their data source.
        for (var i = _resources.Count - 1; i >= 0; i--)
        {
            await _resources[i].DisposeAsync();
        }
    }
}
