using Npgsql;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>A private server, for tests that stop the database: its own port, stopped and started again with its data kept.</summary>
public sealed class PrivatePostgresServerTests
{
    [Fact]
    public async Task APrivateServerStopsAndStartsAgainOnItsPortWithItsDataKept()
    {
        var shared = await PostgresServer.GetAsync();
        var server = await PostgresServer.StartPrivateAsync();
        var database = await server.NewDatabaseAsync();
        await using (server)
        {
            Assert.NotEqual(shared.Port, server.Port);
            await ExecuteAsync(database, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42);");

            await server.StopAsync();

            Assert.False(server.IsRunning);
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => ExecuteAsync(database, "SELECT 1"));

            await server.StartAsync();

            Assert.True(server.IsRunning);
            Assert.Equal(42, await ExecuteAsync(database, "SELECT v FROM kept"));
        }
        Assert.False(server.IsRunning);
    }

    [Fact]
    public async Task TheSharedServerCannotBeStopped()
    {
        var shared = await PostgresServer.GetAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(shared.StopAsync);

        Assert.True(shared.IsRunning);
    }

    private static async Task<object?> ExecuteAsync(string connectionString, string sql)
    {
        // No pooling: a connection from before the stop would only say so when used.
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
