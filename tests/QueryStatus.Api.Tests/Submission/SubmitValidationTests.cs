using System.Net;
using System.Text;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// A submission the service cannot take is refused with the error envelope (400 naming the field, 415 for a
/// body that is not JSON) and creates nothing. No leasing, no time moves: one shared factory.
/// </summary>
public class SubmitValidationTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private const string Id = "ID_PLACEHOLDER";

    /// <summary>Bodies that are refused, with the field the description must name. <see cref="Id"/> becomes a fresh schedule ID.</summary>
    public static readonly TheoryData<string, string> InvalidBodies = new()
    {
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[]}}", "subqueries" },
        { $"{{\"schedule_id\":\"{Id}\"}}", "subqueries" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":null}}", "subqueries" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":\"SELECT 1\"}}", "subqueries" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":{{\"q\":1}}}}", "subqueries" },
        { $"{{\"schedule_id\":\"{new string('a', 51)}\",\"subqueries\":[1]}}", "schedule_id" },
        { "{\"schedule_id\":\"has space\",\"subqueries\":[1]}", "schedule_id" },
        { "{\"schedule_id\":\"dot.ted\",\"subqueries\":[1]}", "schedule_id" },
        { "{\"schedule_id\":\"caf\u00e9\",\"subqueries\":[1]}", "schedule_id" },
        { "{\"schedule_id\":\"final_newline\\n\",\"subqueries\":[1]}", "schedule_id" },
        { "{\"schedule_id\":\"\",\"subqueries\":[1]}", "schedule_id" },
        { "{\"schedule_id\":5,\"subqueries\":[1]}", "schedule_id" },
        { "{\"schedule_id\":[\"a\"],\"subqueries\":[1]}", "schedule_id" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":\"tomorrow\"}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":\"2026-13-01T00:00:00Z\"}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":\"\"}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":\"12:00\"}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":\"Nov 29 2026\"}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":\"2026-11-29T10:00:00\"}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":\"2126-11-29T10:00:00Z\\n\"}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"not_before\":1764417600}}", "not_before" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1,{{\"q\":\"\\ud800\"}}]}}", "subqueries" },
        { $"{{\"schedule_id\":\"{Id}\",\"schedule_id\":\"{Id}\",\"subqueries\":[1]}}", "schedule_id" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[1],\"subqueries\":[2]}}", "subqueries" },
        { $"{{\"schedule_id\":\"{Id}\",\"subqueries\":[{{\"q\":1,\"q\":2}}]}}", "subqueries" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidSubmissionIsBadRequestNamingTheFieldAndCreatesNothing(string body, string field)
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        using var response = await client.PostSubmitAsync(body.Replace(Id, scheduleId, StringComparison.Ordinal));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.NotNull(description);
        Assert.Contains(field, description, StringComparison.Ordinal);
        using var status = await client.GetStatusAsync(scheduleId);
        await status.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task TenThousandAndOneSubQueriesAreTooMany()
    {
        var license = TestData.NewLicenseId();
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(license);

        using var response = await client.PostSubmitAsync(SubmitBody(scheduleId, Enumerable.Repeat("1", 10_001)));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("subqueries", description);
        Assert.Contains("10000", description);
        using var status = await client.GetStatusAsync(scheduleId);
        await status.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Theory]
    [InlineData("{\"subqueries\":[1,")]
    [InlineData("{\"subqueries\":[1]")]
    [InlineData("{subqueries:[1]}")]
    [InlineData("not json at all")]
    [InlineData("{\"subqueries\":[1]} trailing")]
    [InlineData("")]
    public async Task MalformedJsonBodyIsBadRequest(string body)
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostSubmitAsync(body);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("JSON", description);
        Assert.DoesNotContain(nameof(Api.Submission.SubmitRequest), description); // the client's words, not the handler's .NET type
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("\"subqueries\"")]
    [InlineData("null")]
    public async Task BodyThatIsNotAnObjectIsBadRequest(string body)
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostSubmitAsync(body);

        await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
    }

    [Fact]
    public async Task EmptyBodyIsBadRequest()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostSubmitAsync("");

        await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
    }

    [Fact]
    public async Task NoBodyAtAllIsRefused()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostAsync(SubmitPath, content: null);

        // Without a body there is no content type either: 415 or 400 are both fair; never success or a 500.
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnsupportedMediaType,
            $"Expected 400 or 415, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        await response.AssertEnvelopeAsync(response.StatusCode,
            response.StatusCode == HttpStatusCode.BadRequest ? "BAD_REQUEST" : "UNSUPPORTED_MEDIA_TYPE");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task BodyThatIsNotSentAsJsonIsUnsupportedMediaType(string contentType)
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.PostAsync(SubmitPath,
            new StringContent(SubmitBody(scheduleId, SubQueries(1)), Encoding.UTF8, contentType));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE");
        Assert.Contains("application/json", description);
        using var status = await client.GetStatusAsync(scheduleId);
        await status.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=\"\"")]
    [InlineData("application/json; charset=utf-16")]
    public async Task JsonBodyInACharsetOtherThanUtf8IsUnsupportedMediaType(string contentType)
    {
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await PostUtf8SubmissionAsync(client, scheduleId, contentType);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE");
        Assert.Contains("UTF-8", description);
        using var status = await client.GetStatusAsync(scheduleId);
        await status.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json")]
    public async Task JsonBodyInUtf8IsAcceptedWithOrWithoutCharset(string contentType)
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await PostUtf8SubmissionAsync(client, TestData.NewScheduleId(), contentType);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>A submission's UTF-8 bytes, sent with <paramref name="contentType"/> exactly as given.</summary>
    private static async Task<HttpResponseMessage> PostUtf8SubmissionAsync(HttpClient client, string scheduleId, string contentType)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(SubmitBody(scheduleId, SubQueries(1))));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return await client.PostAsync(SubmitPath, content);
    }

    [Fact]
    public async Task SubmitWithGetIsMethodNotAllowed()
    {
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());

        using var response = await client.GetAsync(SubmitPath);

        await response.AssertEnvelopeAsync(HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
    }

    [Fact]
    public async Task SubmitWithoutCredentialIsUnauthorized()
    {
        using var client = factory.CreateAnonymousClient();

        using var response = await client.PostSubmitAsync(SubmitBody(TestData.NewScheduleId(), SubQueries(1)));

        await response.AssertEnvelopeAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }
}

public sealed class SubmitValidationTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : SubmitValidationTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
