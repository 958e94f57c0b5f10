using Npgsql;
using QueryStatus.Api.Tests.Infrastructure;
using Serilog.Events;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// <c>Store:Provider</c> = <c>Postgres</c> through the HTTP API: instances on one database share every query, and
/// start-up refuses a provider it does not know or a PostgreSQL store without a connection string.
/// </summary>
public sealed class PostgresProviderTests
{
    private static QueryStatusFactory Instance(string connectionString) => new()
    {
        Settings = new Dictionary<string, string?>
        {
            ["Store:Provider"] = "Postgres",
            ["ConnectionStrings:QueryStatus"] = connectionString,
        },
    };

    [Fact]
    public async Task TwoInstancesOnOneDatabaseServeOneTruth()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        using var a = Instance(database);
        using var b = Instance(database);
        b.Time.SetUtcNow(a.Time.GetUtcNow());
        var license = TestData.NewLicenseId();
        using var clientOnA = a.CreateJwtClient(license);
        using var clientOnB = b.CreateJwtClient(license);
        using var workerOnB = b.CreateWorker();

        var scheduleId = await clientOnA.SubmitAsync(Sub("a"), Sub("b"));
        var first = await workerOnB.LeaseOneAsync();
        await workerOnB.RowsOkAsync(first, 1, Row("first-1"));
        await workerOnB.RowsOkAsync(first, 0, Row("first-0"));
        await workerOnB.CompleteOkAsync(first, [Row("first-last")]);
        var second = await workerOnB.LeaseOneAsync();
        await workerOnB.CompleteOkAsync(second, [Row("second")]);

        var onA = await clientOnA.StatusAsync(scheduleId);
        var onB = await clientOnB.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", onA.StatusCode());
        Assert.Equal([Row("first-0"), Row("first-1"), Row("first-last"), Row("second")], onA.RawRows());
        Assert.Equal(onA.RawRows(), onB.RawRows());
    }

    [Fact]
    public async Task AQueryOutlivesTheInstanceThatTookIt()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        var license = TestData.NewLicenseId();
        string scheduleId;
        using (var before = Instance(database))
        using (var client = before.CreateJwtClient(license))
        {
            scheduleId = await client.SubmitAsync(Sub("a"));
        }

        using var after = Instance(database);
        using var clientAfter = after.CreateJwtClient(license);
        using var worker = after.CreateWorker();
        var task = await worker.LeaseOneAsync();
        await worker.CompleteOkAsync(task, [Row("kept")]);

        var status = await clientAfter.StatusAsync(scheduleId);
        Assert.Equal([Row("kept")], status.RawRows());
    }

    [Theory]
    [InlineData("Oracle", "Store:Provider")]
    [InlineData("Postgres", "ConnectionStrings:QueryStatus")]
    public void StartUpRefusesAStoreItCannotBuildAndSaysWhichSetting(string provider, string named)
    {
        using var factory = new QueryStatusFactory { Settings = new Dictionary<string, string?> { ["Store:Provider"] = provider } };

        var error = Record.Exception(() => factory.CreateClient().Dispose());

        // The host reports its start-up fault and exits; under the test host the client call may then fail with
        // whatever it trips over next, so the cause is looked for in what was thrown and in what was logged.
        Assert.NotNull(error);
        var logged = factory.Logs.Events
            .Where(e => e.Level >= LogEventLevel.Error && e.Exception is not null)
            .Select(e => StoreTestHelpers.MessageChain(e.Exception!));
        var messages = string.Join(Environment.NewLine, logged.Prepend(StoreTestHelpers.MessageChain(error)));
        Assert.Contains(named, messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASeedFileAppliedByEveryStartLeavesOneCopy()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        using var seed = TempSeedFile.WithSchedules(
            """{"schedule_id": "seeded_done", "license_id": "lic_test", "status_code": "SUCCESS", "subqueries": ["DONE", "DONE"], "data": [{"n": 1}, {"n": 2}, {"n": 3}]}""",
            """{"schedule_id": "seeded_running", "license_id": "lic_test", "status_code": "RUNNING", "subqueries": ["DONE", "RUNNING", "QUEUED"]}""");
        var settings = new (string, string?)[] { ("Store:Provider", "Postgres"), ("ConnectionStrings:QueryStatus", database) };

        for (var start = 0; start < 2; start++)
        {
            using var factory = seed.CreateFactory(settings);
            using var client = factory.CreateClientWithApiKey();
            var done = await client.StatusAsync("seeded_done");
            Assert.Equal(["{\"n\": 1}", "{\"n\": 2}", "{\"n\": 3}"], done.RawRows());
            Assert.Equal("RUNNING", (await client.StatusAsync("seeded_running")).StatusCode());
        }

        await using var dataSource = NpgsqlDataSource.Create(database);
        await using var count = dataSource.CreateCommand("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM tasks)");
        await using var reader = await count.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal((2L, 5L), (reader.GetInt64(0), reader.GetInt64(1)));
    }
}
