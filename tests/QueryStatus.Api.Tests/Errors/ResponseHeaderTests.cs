using System.Net;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Errors;

/// <summary>X-Request-Id, CORS and rate-limit headers on every kind of API response (500 and 503: see the fault tests).</summary>
public sealed class ResponseHeaderTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    public enum Outcome
    {
        Ok,
        BadRequest,
        BadRequestBeforeAuthentication,
        Unauthorized,
        NotFound,
        UnknownRoute,
        MethodNotAllowed,
    }

    public static TheoryData<Outcome> Outcomes => [.. Enum.GetValues<Outcome>()];

    private async Task<HttpResponseMessage> SendAsync(Outcome outcome)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var authenticated = factory.CreateClientWithJwt(license);
        using var anonymous = factory.CreateAnonymousClient();
        var url = HttpAssertions.StatusUrl(schedule.ScheduleId);
        return outcome switch
        {
            Outcome.Ok => await authenticated.GetAsync(url),
            Outcome.BadRequest => await authenticated.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId, "offset_start=abc")),
            Outcome.BadRequestBeforeAuthentication => await anonymous.GetAsync("/enterprise/v2/query/status?json=%7Bbad"),
            Outcome.Unauthorized => await anonymous.GetAsync(url),
            Outcome.NotFound => await authenticated.GetAsync(HttpAssertions.StatusUrl(TestData.NewScheduleId())),
            Outcome.UnknownRoute => await authenticated.GetAsync("/enterprise/v2/query/unknown"),
            Outcome.MethodNotAllowed => await anonymous.DeleteAsync(url),
            _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
        };
    }

    private static HttpStatusCode Expected(Outcome outcome) => outcome switch
    {
        Outcome.Ok => HttpStatusCode.OK,
        Outcome.BadRequest or Outcome.BadRequestBeforeAuthentication => HttpStatusCode.BadRequest,
        Outcome.Unauthorized => HttpStatusCode.Unauthorized,
        Outcome.NotFound or Outcome.UnknownRoute => HttpStatusCode.NotFound,
        Outcome.MethodNotAllowed => HttpStatusCode.MethodNotAllowed,
        _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
    };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public async Task EveryResponseCarriesAWellFormedRequestIdEqualToMetaRequestId(Outcome outcome)
    {
        var response = await SendAsync(outcome);

        Assert.Equal(Expected(outcome), response.StatusCode);
        await response.AssertRequestIdMatchesBodyAsync();
    }

    [Theory]
    [MemberData(nameof(Outcomes))]
    public async Task EveryResponseAllowsAnyOrigin(Outcome outcome)
    {
        var response = await SendAsync(outcome);

        Assert.Equal(Expected(outcome), response.StatusCode);
        response.AssertAllowsAnyOrigin();
    }

    [Theory]
    [MemberData(nameof(Outcomes))]
    public async Task EveryApiResponseCarriesRateLimitHeaders(Outcome outcome)
    {
        var response = await SendAsync(outcome);

        Assert.Equal(Expected(outcome), response.StatusCode);
        var (limit, _) = response.AssertRateLimitHeaders();
        Assert.Equal(1_000_000, limit);
    }

    [Fact]
    public async Task EveryRequestGetsADifferentRequestId()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);
        using var anonymous = factory.CreateAnonymousClient();

        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId))).AssertRequestId());
            ids.Add((await anonymous.GetAsync("/no/such/route")).AssertRequestId());
        }

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }
}
