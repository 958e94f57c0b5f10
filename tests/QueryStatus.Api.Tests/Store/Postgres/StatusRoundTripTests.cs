using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// A status poll on PostgreSQL costs one round trip to the database, however deep its page: counted as the commands
/// Npgsql sends to this test's own database (its tracing, one activity per command or batch sent).
/// </summary>
public sealed class StatusRoundTripTests
{
    [Fact]
    public async Task AStatusPollOfARunningQueryIsOneRoundTrip()
    {
        var settings = await StoreProviders.SettingsAsync(Api.Store.StoreOptions.PostgresProvider);
        using var factory = new QueryStatusFactory { Settings = settings };
        var license = TestData.NewLicenseId();
        using var client = factory.CreateJwtClient(license);
        var scheduleId = await client.SubmitAsync(Sub("a"), Sub("b"));

        var commands = await CountCommandsAsync(settings, () => client.StatusAsync(scheduleId));

        Assert.Equal(1, commands);
    }

    [Fact]
    public async Task AStatusPollWithADeepPageOfASucceededQueryIsOneRoundTrip()
    {
        var settings = await StoreProviders.SettingsAsync(Api.Store.StoreOptions.PostgresProvider);
        using var factory = new QueryStatusFactory { Settings = settings };
        var license = TestData.NewLicenseId();
        using var client = factory.CreateJwtClient(license);
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();
        var rows = Enumerable.Range(0, 3000).Select(i => Row($"r{i}")).ToArray();
        for (var batch = 0; batch < 3; batch++)
        {
            await worker.RowsOkAsync(task, batch, rows[(batch * 1000)..((batch + 1) * 1000)]);
        }
        await worker.CompleteOkAsync(task, []);

        System.Text.Json.JsonElement page = default;
        var commands = await CountCommandsAsync(settings, async () => page = await client.StatusAsync(scheduleId, "offset_start=1500&offset_end=2600"));

        Assert.Equal(1, commands);
        Assert.Equal(rows[1500..2600], page.RawRows());
    }

    private static async Task<int> CountCommandsAsync(Dictionary<string, string?> settings, Func<Task> poll)
    {
        var database = new NpgsqlConnectionStringBuilder(settings["ConnectionStrings:QueryStatus"]).Database!;
        var seen = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = seen.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await poll();
        // Other tests run beside this one on the same server: only this test's database counts.
        return seen.Count(a => a.Tags.Any(t => t.Value == database));
    }
}
