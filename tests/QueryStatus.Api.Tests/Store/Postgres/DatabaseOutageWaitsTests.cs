using System.Net;
using Microsoft.Extensions.DependencyInjection;
using QueryStatus.Api.Status;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// Calls that wait on the server (a status long-poll, a lease with <c>wait_seconds</c>) when the database stops: a wait
/// that ends while the database is down answers 503 <c>SERVICE_UNAVAILABLE</c> with <c>Retry-After</c>, as any request
/// then does, not what it read before the outage. On the service's fake clock, so the wait ends exactly then; each test
/// has a private PostgreSQL server that it stops (the shared one serves other tests meanwhile).
/// </summary>
public sealed class DatabaseOutageWaitsTests
{
    /// <summary>How long the test waits for an answer or a state that should come at once (a guard, not a timing).</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AStatusLongPollWhoseWaitEndsWhileTheDatabaseIsDownAnswers503NotWhatItReadBefore()
    {
        await using var server = await PostgresServer.StartPrivateAsync();
        using var factory = await ServiceOnAsync(server);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var waits = factory.Services.GetRequiredService<StatusWaits>();
        var poll = client.GetStatusAsync(scheduleId, "wait_seconds=10");
        await EventuallyAsync(() => waits.Waiting == 1 || poll.IsCompleted, "the long-poll waits");
        Assert.False(poll.IsCompleted, "The long-poll answered before it waited.");

        await server.StopAsync();
        await UnavailableAsync(factory);
        // And its change feed (the LISTEN connection that wakes long-polls) has seen the outage too, so that a service
        // that wakes its waiters then has done so before their time is up.
        await EventuallyAsync(() => poll.IsCompleted || factory.Logs.Events.Any(e =>
                e.Level >= Serilog.Events.LogEventLevel.Warning
                && e.Properties.TryGetValue("SourceContext", out var source) && source.ToString().Contains(nameof(PostgresWakeups), StringComparison.Ordinal)),
            "the service noticed its change feed broke");
        factory.Time.Advance(TimeSpan.FromSeconds(10));

        await AssertUnavailableAsync(await poll.WaitAsync(Guard));
    }

    [Fact]
    public async Task ALeaseWhoseWaitEndsWhileTheDatabaseIsDownAnswers503()
    {
        await using var server = await PostgresServer.StartPrivateAsync();
        using var factory = await ServiceOnAsync(server);
        using var worker = factory.CreateWorker();
        var timers = factory.Time.PendingTimers();
        var lease = worker.PostLeaseAsync(maxTasks: 1, leaseSeconds: 60, waitSeconds: 10);
        // A waiting lease sleeps on a timer of the service's clock: a new timer is how the test knows it waits.
        await EventuallyAsync(() => factory.Time.PendingTimers() > timers || lease.IsCompleted, "the lease waits");
        Assert.False(lease.IsCompleted, "The lease answered before it waited.");

        await server.StopAsync();
        await UnavailableAsync(factory);
        factory.Time.Advance(TimeSpan.FromSeconds(10));

        await AssertUnavailableAsync(await lease.WaitAsync(Guard));
    }

    private static async Task<QueryStatusFactory> ServiceOnAsync(PostgresServer server)
    {
        var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Store:Provider"] = "Postgres",
                ["ConnectionStrings:QueryStatus"] = await server.NewDatabaseAsync(),
            },
        };
        using var probe = factory.CreateAnonymousClient();
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/readyz")).StatusCode);
        return factory;
    }

    /// <summary>Waits until the service itself says the database is gone (<c>/readyz</c> 503).</summary>
    private static async Task UnavailableAsync(QueryStatusFactory factory)
    {
        using var probe = factory.CreateAnonymousClient();
        using var patience = new CancellationTokenSource(Guard);
        while (true)
        {
            using var response = await probe.GetAsync("/readyz", patience.Token);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                return;
            }
            // A pause between probes, not a wait for anything: the loop ends on the answer.
            await Task.Delay(50, patience.Token);
        }
    }

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        using (response)
        {
            await response.AssertEnvelopeAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
            Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"The 503 has no Retry-After in seconds ({response.Headers.RetryAfter}).");
        }
    }
}
