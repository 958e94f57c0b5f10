using System.Net;
using System.Net.Http.Headers;
using QueryStatus.Api.Tests.Infrastructure;
using Serilog.Events;

namespace QueryStatus.Api.Tests.Observability;

/// <summary>
/// Credentials never reach a log line, even with every logger at Verbose. Each test owns a host whose
/// logs hold only its own requests.
/// </summary>
public sealed class SecretLoggingTests
{
    private const string UnknownKey = "qs_unknown_key_never_configured_0005";
    private const string MalformedKey = "qs~malformed~key~0006";

    private static QueryStatusFactory VerboseFactory() => new()
    {
        Settings = new Dictionary<string, string?>
        {
            ["Serilog:MinimumLevel:Default"] = "Verbose",
            ["Serilog:MinimumLevel:Override:Microsoft"] = "Verbose",
            ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Verbose",
            ["Serilog:MinimumLevel:Override:System"] = "Verbose",
        },
    };

    private static string Json(string scheduleId, string apiKey) =>
        Uri.EscapeDataString($$"""{"schedule_id":"{{scheduleId}}","api_key":"{{apiKey}}"}""");

    private static async Task<HttpStatusCode> GetAsync(HttpClient client, string url, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        var response = await client.SendAsync(request);
        await response.Content.ReadAsStringAsync();
        return response.StatusCode;
    }

    private static void AssertVerboseLoggingWasOn(QueryStatusFactory factory) =>
        Assert.Contains(factory.Logs.Events, e => e.Level <= LogEventLevel.Debug);

    private static void AssertNeverLogged(QueryStatusFactory factory, params string[] secrets)
    {
        var lines = factory.Logs.Lines();
        Assert.NotEmpty(lines);
        foreach (var secret in secrets)
        {
            var leaks = lines.Where(l => l.Contains(secret, StringComparison.Ordinal)).ToList();
            Assert.True(leaks.Count == 0, $"'{secret}' was logged:{Environment.NewLine}{string.Join(Environment.NewLine, leaks)}");
        }
    }

    [Fact]
    public async Task ApiKeysNeverReachAnyLogLineAtAnyLevel()
    {
        using var factory = VerboseFactory();
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId));
        var id = schedule.ScheduleId;
        using var client = factory.CreateAnonymousClient();

        var statuses = new Dictionary<string, HttpStatusCode>
        {
            ["valid plain"] = await GetAsync(client, HttpAssertions.StatusUrl(id, "api_key=" + TestKeys.Primary.Key)),
            ["valid in json"] = await GetAsync(client, "/enterprise/v2/query/status?json=" + Json(id, TestKeys.Primary.Key)),
            ["other license in json"] = await GetAsync(client, "/enterprise/v2/query/status?json=" + Json(id, TestKeys.Other.Key)),
            ["unknown plain"] = await GetAsync(client, HttpAssertions.StatusUrl(id, "api_key=" + UnknownKey)),
            ["unknown in json"] = await GetAsync(client, "/enterprise/v2/query/status?json=" + Json(id, UnknownKey)),
            ["malformed plain"] = await GetAsync(client, HttpAssertions.StatusUrl(id, "api_key=" + MalformedKey)),
            ["malformed in json"] = await GetAsync(client, "/enterprise/v2/query/status?json=" + Json(id, MalformedKey)),
            ["valid bearer"] = await GetAsync(client, HttpAssertions.StatusUrl(id), bearer: TestKeys.Primary.Key),
            ["disabled bearer"] = await GetAsync(client, HttpAssertions.StatusUrl(id), bearer: TestKeys.Disabled.Key),
            ["unknown bearer"] = await GetAsync(client, HttpAssertions.StatusUrl(id), bearer: UnknownKey),
            ["malformed bearer"] = await GetAsync(client, HttpAssertions.StatusUrl(id), bearer: MalformedKey),
        };

        // The requests exercised every path: accepted, forbidden, rejected and malformed keys.
        Assert.Equal(HttpStatusCode.OK, statuses["valid plain"]);
        Assert.Equal(HttpStatusCode.OK, statuses["valid in json"]);
        Assert.Equal(HttpStatusCode.NotFound, statuses["other license in json"]);
        Assert.Equal(HttpStatusCode.Unauthorized, statuses["unknown plain"]);
        Assert.Equal(HttpStatusCode.Unauthorized, statuses["unknown in json"]);
        Assert.Equal(HttpStatusCode.BadRequest, statuses["malformed plain"]);
        Assert.Equal(HttpStatusCode.BadRequest, statuses["malformed in json"]);
        Assert.Equal(HttpStatusCode.OK, statuses["valid bearer"]);
        Assert.Equal(HttpStatusCode.Forbidden, statuses["disabled bearer"]);
        Assert.Equal(HttpStatusCode.Unauthorized, statuses["unknown bearer"]);
        Assert.Equal(HttpStatusCode.BadRequest, statuses["malformed bearer"]);

        AssertVerboseLoggingWasOn(factory);
        AssertNeverLogged(factory, TestKeys.Primary.Key, TestKeys.Other.Key, TestKeys.Disabled.Key, UnknownKey, MalformedKey);
    }

    [Fact]
    public async Task JwtsNeverReachAnyLogLineAtAnyLevel()
    {
        using var factory = VerboseFactory();
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        var url = HttpAssertions.StatusUrl(schedule.ScheduleId);
        var now = factory.Time.GetUtcNow();
        var valid = TestJwt.Create(license, now);
        var wrongKey = TestJwt.Create(license, now, signingKey: "another-signing-key-that-nobody-trusts-0123456789"u8.ToArray());
        var expired = TestJwt.Create(license, now.AddHours(-3), lifetime: TimeSpan.FromHours(1));
        var wrongAudience = TestJwt.Create(license, now, audience: "someone-else");
        var unsigned = TestJwt.CreateUnsigned(license, now);
        using var client = factory.CreateAnonymousClient();

        Assert.Equal(HttpStatusCode.OK, await GetAsync(client, url, bearer: valid));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(client, url, bearer: wrongKey));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(client, url, bearer: expired));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(client, url, bearer: wrongAudience));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(client, url, bearer: unsigned));

        AssertVerboseLoggingWasOn(factory);
        // Whole tokens, and their payload and signature segments (the header segment is shared by all HS256 tokens).
        var secrets = new[] { valid, wrongKey, expired, wrongAudience, unsigned }
            .SelectMany(token => token.Split('.').Skip(1).Where(segment => segment.Length > 0).Append(token))
            .ToArray();
        AssertNeverLogged(factory, secrets);
    }
}
