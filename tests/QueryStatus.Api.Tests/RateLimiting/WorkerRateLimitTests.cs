using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using QueryStatus.Api.Tests.Errors;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Api.Tests.Store;

namespace QueryStatus.Api.Tests.RateLimiting;

/// <summary>
/// Worker credentials have no license: each one (API key or JWT) is limited on its own budget
/// (<c>RateLimiting:Workers</c>), never in the per-address bucket that anonymous callers share. TestServer gives
/// every request the same (absent) client address, which is what a worker fleet behind one NAT looks like.
/// </summary>
public sealed class WorkerRateLimitTests
{
    private const int WorkerLimit = 2;

    private static QueryStatusFactory NewFactory() => new()
    {
        Settings = new Dictionary<string, string?>(RateLimitedFactory.LimitSettings)
        {
            ["RateLimiting:Workers:PermitLimit"] = WorkerLimit.ToString(CultureInfo.InvariantCulture),
            ["RateLimiting:Workers:Window"] = "01:00:00",
        },
    };

    private static WorkerClient WorkerWithJwt(QueryStatusFactory factory, string subject, string? licenseId = null)
    {
        var http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestJwt.Create(licenseId, factory.Time.GetUtcNow(),
            extraClaims: [new Claim("scope", "worker")], subject: subject));
        return new WorkerClient(http, subject);
    }

    /// <summary>Lease calls (nothing to lease: 200, no tasks) until the budget is spent; returns the remaining counts seen.</summary>
    private static async Task<List<(long Limit, long Remaining)>> SpendAsync(WorkerClient worker, int calls)
    {
        var seen = new List<(long, long)>();
        for (var i = 0; i < calls; i++)
        {
            using var response = await worker.PostLeaseAsync(waitSeconds: 0);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen.Add(response.AssertRateLimitHeaders());
        }
        return seen;
    }

    [Fact]
    public async Task WorkerKeyHasItsOwnBudgetAndIsToldItsLimit()
    {
        using var factory = NewFactory();
        using var worker = factory.CreateWorker();

        Assert.Equal([(2L, 1L), (2L, 0L)], await SpendAsync(worker, WorkerLimit));
    }

    [Fact]
    public async Task TwoWorkerKeysFromOneAddressEachGetTheirOwnBudget()
    {
        using var factory = NewFactory();
        using var first = factory.CreateWorker();
        using var second = new WorkerClient(factory.CreateClientWithApiKey(TestKeys.OtherWorker), "worker-2");
        await SpendAsync(first, WorkerLimit);
        using var refused = await first.PostLeaseAsync(waitSeconds: 0);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);

        Assert.Equal([(2L, 1L), (2L, 0L)], await SpendAsync(second, WorkerLimit));
    }

    [Fact]
    public async Task WorkerJwtsAreCountedPerSubject()
    {
        using var factory = NewFactory();
        using var first = WorkerWithJwt(factory, "worker-a");
        using var sameSubject = WorkerWithJwt(factory, "worker-a");
        using var other = WorkerWithJwt(factory, "worker-b");

        Assert.Equal([(2L, 1L)], await SpendAsync(first, 1));
        Assert.Equal([(2L, 0L)], await SpendAsync(sameSubject, 1));
        Assert.Equal([(2L, 1L), (2L, 0L)], await SpendAsync(other, WorkerLimit));
    }

    [Fact]
    public async Task AnonymousCallerFromTheSameAddressIsLimitedSeparately()
    {
        using var factory = NewFactory();
        using var worker = factory.CreateWorker();
        using var anonymous = factory.CreateAnonymousClient();
        var url = HttpAssertions.StatusUrl(TestData.NewScheduleId());

        for (var i = 0; i < RateLimitedFactory.PermitLimit; i++)
        {
            using var response = await anonymous.GetAsync(url);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        using (var anonymousRefused = await anonymous.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, anonymousRefused.StatusCode);
        }

        Assert.Equal([(2L, 1L), (2L, 0L)], await SpendAsync(worker, WorkerLimit));
        using var workerRefused = await worker.PostLeaseAsync(waitSeconds: 0);
        Assert.Equal(HttpStatusCode.TooManyRequests, workerRefused.StatusCode);

        // Both buckets are spent; the address's and the worker's are still two.
        using var anonymousAgain = await anonymous.GetAsync(url);
        Assert.Equal((3L, 0L), anonymousAgain.AssertRateLimitHeaders());
    }

    [Fact]
    public async Task WorkerWithAWrongKeyIsCountedAgainstItsAddress()
    {
        using var factory = NewFactory();
        using var impostor = new WorkerClient(factory.CreateClient(), "impostor");
        impostor.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "qs_no_such_worker_key");

        var remaining = new List<long>();
        for (var i = 0; i < RateLimitedFactory.PermitLimit; i++)
        {
            using var response = await impostor.PostLeaseAsync(waitSeconds: 0);
            await response.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            remaining.Add(response.AssertRateLimitHeaders().Remaining);
        }

        Assert.Equal([2L, 1L, 0L], remaining);
    }

    [Fact]
    public async Task WorkerOverItsBudgetGetsTooManyRequestsWithRetryAfterAndTheEnvelope()
    {
        using var factory = NewFactory();
        using var worker = factory.CreateWorker();
        await SpendAsync(worker, WorkerLimit);

        using var response = await worker.PostLeaseAsync(waitSeconds: 0);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        Assert.Contains("At most 2 requests per 01:00:00", description, StringComparison.Ordinal);
        var retryAfter = long.Parse(response.Single("Retry-After"), CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 3600);
        Assert.Equal((2L, 0L), response.AssertRateLimitHeaders());
        response.AssertRequestId();
    }

    [Fact]
    public async Task ClientLicenseBudgetIsNotAWorkersBudget()
    {
        using var factory = NewFactory();
        using var worker = factory.CreateWorker();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);
        await SpendAsync(worker, WorkerLimit);

        using var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((3L, 2L), response.AssertRateLimitHeaders());
    }

    [Theory]
    [InlineData("RateLimiting:Workers:PermitLimit", "0")]
    [InlineData("RateLimiting:Workers:Window", "00:00:00")]
    public void OutOfRangeWorkerLimitStopsStartUpNamingTheSetting(string setting, string value)
    {
        using var factory = new QueryStatusFactory { Settings = new Dictionary<string, string?> { [setting] = value } };

        var thrown = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        var messages = StoreTestHelpers.Chain(thrown)
            .Concat(factory.Logs.Events.Where(e => e.Exception is not null).SelectMany(e => StoreTestHelpers.Chain(e.Exception!)))
            .Select(e => e.Message);
        Assert.Contains(messages, m => m.Contains(setting + " must be between", StringComparison.Ordinal));
    }
}
