using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>The store's timeouts: ours where the connection string names none, the operator's where it does.</summary>
public sealed class PostgresDataSourceTests
{
    [Fact]
    public void AConnectionStringWithoutTimeoutsGetsTheStoresShortOnes()
    {
        using var data = PostgresDataSource.Build("Host=127.0.0.1;Username=qs", NullLoggerFactory.Instance);

        var settings = new NpgsqlConnectionStringBuilder(data.ConnectionString);
        Assert.Equal((PostgresDataSource.ConnectTimeoutSeconds, PostgresDataSource.CommandTimeoutSeconds), (settings.Timeout, settings.CommandTimeout));
        Assert.Equal((5, 10), (settings.Timeout, settings.CommandTimeout));
        Assert.Equal((32, true, true), (settings.MaxAutoPrepare, settings.NoResetOnClose, settings.Multiplexing));
        Assert.Equal(128 * 1024, settings.WriteBufferSize);
        Assert.Equal("-c plan_cache_mode=force_generic_plan", settings.Options);
    }

    [Fact]
    public async Task EveryConnectionPlansPreparedStatementsGenerically()
    {
        await using var data = PostgresDataSource.Build(await PostgresServer.CreateDatabaseAsync(), NullLoggerFactory.Instance);
        await using var command = data.CreateCommand("SHOW plan_cache_mode");

        Assert.Equal("force_generic_plan", await command.ExecuteScalarAsync());
    }

    [Fact]
    public void OptionsNamedInTheConnectionStringReplaceTheGenericPlanSetting()
    {
        using var data = PostgresDataSource.Build("Host=127.0.0.1;Options=-c statement_timeout=5000", NullLoggerFactory.Instance);

        Assert.Equal("-c statement_timeout=5000", new NpgsqlConnectionStringBuilder(data.ConnectionString).Options);
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Username=qs")]
    [InlineData("Host=127.0.0.1;Username=qs;Multiplexing=true")]
    public void TheSessionsDataSourceNeverMultiplexesAndKeepsTheOtherDefaults(string connectionString)
    {
        using var data = PostgresDataSource.BuildSessions(connectionString, NullLoggerFactory.Instance);

        var settings = new NpgsqlConnectionStringBuilder(data.ConnectionString);
        Assert.False(settings.Multiplexing);
        Assert.Equal((5, 10, 32), (settings.Timeout, settings.CommandTimeout, settings.MaxAutoPrepare));
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Timeout=30;Command Timeout=60;Max Auto Prepare=0;No Reset On Close=false;Multiplexing=false;Write Buffer Size=16384")]
    [InlineData("Host=127.0.0.1;timeout=30;CommandTimeout=60;MaxAutoPrepare=0;NoResetOnClose=false;multiplexing=false;writebuffersize=16384")]
    public void TimeoutsNamedInTheConnectionStringAreKept(string connectionString)
    {
        using var data = PostgresDataSource.Build(connectionString, NullLoggerFactory.Instance);

        var settings = new NpgsqlConnectionStringBuilder(data.ConnectionString);
        Assert.Equal((30, 60), (settings.Timeout, settings.CommandTimeout));
        Assert.Equal((0, false, false), (settings.MaxAutoPrepare, settings.NoResetOnClose, settings.Multiplexing));
        Assert.Equal(16384, settings.WriteBufferSize);
    }
}
