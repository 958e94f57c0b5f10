using System.Net;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// Who may do what: query:read reads statuses, query:write submits and stops, worker leases and reports.
/// A credential naming no scope gets query:read and query:write. Every test that calls the lease endpoint,
/// even one expected to be refused, has its own factory so it can never take another test's task.
/// </summary>
public class ScopeTests(QueryStatusFactory shared) : IClassFixture<QueryStatusFactory>
{
    [Fact]
    public async Task KeyWithoutScopesMaySubmitReadAndStop()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateClientWithApiKey(TestKeys.Primary);

        Assert.Equal("QUEUED", (await client.SubmitAsync(scheduleId, 1)).StatusCode());
        Assert.Equal("QUEUED", (await client.StatusAsync(scheduleId)).StatusCode());
        Assert.Equal("STOPPED", (await client.StopAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task ReadOnlyKeyMayReadButNotSubmit()
    {
        var scheduleId = TestData.NewScheduleId();
        var refusedId = TestData.NewScheduleId();
        using var writer = shared.CreateClientWithApiKey(TestKeys.Primary);
        using var reader = shared.CreateClientWithApiKey(TestKeys.ReadOnly);
        await writer.SubmitAsync(scheduleId, 1);

        Assert.Equal("QUEUED", (await reader.StatusAsync(scheduleId)).StatusCode());
        using var submit = await reader.PostSubmitAsync(SubmitBody(refusedId, SubQueries(1)));

        var description = await submit.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Contains("query:write", description);
        using var status = await writer.GetStatusAsync(refusedId);
        await status.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task ReadOnlyKeyMayNotStop()
    {
        var scheduleId = TestData.NewScheduleId();
        using var writer = shared.CreateClientWithApiKey(TestKeys.Primary);
        using var reader = shared.CreateClientWithApiKey(TestKeys.ReadOnly);
        await writer.SubmitAsync(scheduleId, 1);

        using var stop = await reader.PostStopAsync(scheduleId);

        var description = await stop.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Contains("query:write", description);
        Assert.Equal("QUEUED", (await writer.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task WorkerKeyMayNotSubmitStopOrReadStatus()
    {
        var scheduleId = TestData.NewScheduleId();
        using var owner = shared.CreateClientWithApiKey(TestKeys.Primary);
        using var worker = shared.CreateWorkerClient();
        await owner.SubmitAsync(scheduleId, 1);

        using (var submit = await worker.PostSubmitAsync(SubmitBody(TestData.NewScheduleId(), SubQueries(1))))
        {
            Assert.Contains("query:write", await submit.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
        }
        using (var stop = await worker.PostStopAsync(scheduleId))
        {
            Assert.Contains("query:write", await stop.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
        }
        using (var status = await worker.GetStatusAsync(scheduleId))
        {
            Assert.Contains("query:read", await status.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
        }
        Assert.Equal("QUEUED", (await owner.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task WorkerKeyMayLeaseAnyLicensesTasks()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var owner = factory.CreateClientWithApiKey(TestKeys.Primary);
        using var worker = factory.CreateWorker();
        await owner.SubmitAsync(scheduleId, 1);

        var task = Assert.Single(await worker.LeaseAsync());

        Assert.Equal(scheduleId, task.ScheduleId);
        Assert.Equal(TestKeys.Primary.LicenseId, task.LicenseId);
    }

    [Fact]
    public async Task ClientKeyMayNotLease()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateClientWithApiKey(TestKeys.Primary);
        await client.SubmitAsync(scheduleId, 1);
        using var asWorker = new WorkerClient(factory.CreateClientWithApiKey(TestKeys.Primary));

        using var lease = await asWorker.PostLeaseAsync();

        var description = await lease.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Contains("worker", description);
        Assert.Equal((1, 0), (await client.StatusAsync(scheduleId)).Workflow());
    }

    [Fact]
    public async Task ReadOnlyKeyMayNotLease()
    {
        using var factory = NewFactory(shared.Provider);
        using var asWorker = new WorkerClient(factory.CreateClientWithApiKey(TestKeys.ReadOnly));

        using var lease = await asWorker.PostLeaseAsync();

        Assert.Contains("worker", await lease.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
    }

    [Fact]
    public async Task JwtWithReadAndWriteScopesMaySubmitAndStop()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateClientWithJwt(TestData.NewLicenseId(), "query:read query:write");

        Assert.Equal("QUEUED", (await client.SubmitAsync(scheduleId, 1)).StatusCode());
        Assert.Equal("STOPPED", (await client.StopAsync(scheduleId)).StatusCode());
        Assert.Equal("STOPPED", (await client.StatusAsync(scheduleId)).StatusCode());
    }

    [Fact]
    public async Task JwtWithOnlyTheReadScopeMayReadButNotSubmit()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var writer = shared.CreateClientWithJwt(license);
        using var reader = shared.CreateClientWithJwt(license, "query:read");
        await writer.SubmitAsync(scheduleId, 1);

        Assert.Equal("QUEUED", (await reader.StatusAsync(scheduleId)).StatusCode());
        using var submit = await reader.PostSubmitAsync(SubmitBody(TestData.NewScheduleId(), SubQueries(1)));
        Assert.Contains("query:write", await submit.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
        using var stop = await reader.PostStopAsync(scheduleId);
        Assert.Contains("query:write", await stop.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
    }

    [Fact]
    public async Task JwtWithOnlyTheWriteScopeMaySubmitButNotRead()
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = shared.CreateClientWithJwt(TestData.NewLicenseId(), "query:write");

        Assert.Equal("QUEUED", (await client.SubmitAsync(scheduleId, 1)).StatusCode());
        using var status = await client.GetStatusAsync(scheduleId);
        Assert.Contains("query:read", await status.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
    }

    [Fact]
    public async Task JwtWithTheWorkerScopeAndNoLicenseMayLeaseButNotSubmit()
    {
        using var factory = NewFactory(shared.Provider);
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var owner = factory.CreateClientWithJwt(license);
        using var worker = new WorkerClient(factory.CreateClientWithJwt(null, "worker"));
        await owner.SubmitAsync(scheduleId, 1);

        var task = Assert.Single(await worker.LeaseAsync());
        Assert.Equal(scheduleId, task.ScheduleId);
        Assert.Equal(license, task.LicenseId);
        await worker.CompleteOkAsync(task, ["{\"r\":1}"]);
        Assert.Equal("SUCCESS", (await owner.StatusAsync(scheduleId)).StatusCode());

        using var submit = await worker.Http.PostSubmitAsync(SubmitBody(TestData.NewScheduleId(), SubQueries(1)));
        await submit.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
    }

    [Fact]
    public async Task JwtWithoutAScopeClaimMaySubmitButNotLease()
    {
        using var factory = NewFactory(shared.Provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());
        using var asWorker = new WorkerClient(factory.CreateClientWithJwt(TestData.NewLicenseId()));

        Assert.Equal("QUEUED", (await client.SubmitAsync(scheduleId, 1)).StatusCode());
        Assert.Equal("QUEUED", (await client.StatusAsync(scheduleId)).StatusCode());
        using var lease = await asWorker.PostLeaseAsync();

        Assert.Contains("worker", await lease.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
        Assert.Equal((1, 0), (await client.StatusAsync(scheduleId)).Workflow());
    }

    [Fact]
    public async Task JwtWithoutALicenseMayNotSubmitEvenWithTheWriteScope()
    {
        using var client = shared.CreateClientWithJwt(null, "query:read query:write");

        using var submit = await client.PostSubmitAsync(SubmitBody(TestData.NewScheduleId(), SubQueries(1)));

        Assert.Contains("license", await submit.AssertEnvelopeAsync(HttpStatusCode.Forbidden, "FORBIDDEN"));
    }
}

public sealed class ScopeTestsOnPostgres(QueryStatusFactoryOnPostgres shared) : ScopeTests(shared), IClassFixture<QueryStatusFactoryOnPostgres>;
