using Npgsql;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>The throwaway server the PostgreSQL store's tests run against: a real server, one database per test.</summary>
public sealed class PostgresServerTests
{
    [Fact]
    public async Task EachTestGetsAnEmptyDatabaseOfItsOwn()
    {
        var first = await PostgresServer.CreateDatabaseAsync();
        var second = await PostgresServer.CreateDatabaseAsync();
        Assert.NotEqual(new NpgsqlConnectionStringBuilder(first).Database, new NpgsqlConnectionStringBuilder(second).Database);

        await using (var connection = new NpgsqlConnection(first))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE TABLE t (v int); INSERT INTO t VALUES (42);", connection);
            await create.ExecuteNonQueryAsync();
        }

        await using (var connection = new NpgsqlConnection(second))
        {
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", connection);
            Assert.Equal(0L, await count.ExecuteScalarAsync());
        }
    }

    [Fact]
    public async Task ServerIsPostgreSqlListeningOnLoopback()
    {
        await using var connection = new NpgsqlConnection(await PostgresServer.CreateDatabaseAsync());
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT current_setting('listen_addresses'), current_setting('server_version_num')::int", connection);
        await using var reader = await query.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("127.0.0.1", reader.GetString(0));
        Assert.True(reader.GetInt32(1) >= 150000, $"PostgreSQL 15 or later expected, found {reader.GetInt32(1)}.");
    }
}
