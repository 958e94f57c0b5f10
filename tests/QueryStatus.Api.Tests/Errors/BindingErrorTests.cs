using System.Net;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Errors;

public sealed class BindingErrorTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"schedule_id\":")]
    [InlineData("[\"schedule_id\"]")]
    [InlineData("\"just a string\"")]
    public async Task MalformedJsonParameterAnswersBadRequestEnvelopeNamingJson(string json)
    {
        using var client = factory.CreateClientWithJwt(TestData.NewLicenseId());

        var response = await client.GetAsync("/enterprise/v2/query/status?json=" + Uri.EscapeDataString(json));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.NotNull(description);
        Assert.StartsWith("json:", description);
    }

    [Fact]
    public async Task MalformedJsonParameterWithoutCredentialAnswersBadRequestEnvelope()
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync("/enterprise/v2/query/status?json=" + Uri.EscapeDataString("{oops"));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.StartsWith("json:", description);
    }

    [Theory]
    [InlineData("offset_start=abc", "offset_start")]
    [InlineData("offset_start=1.5", "offset_start")]
    [InlineData("offset_end=1e3", "offset_end")]
    [InlineData("offset_end=ten", "offset_end")]
    public async Task NonIntegerOffsetAnswersBadRequestEnvelopeNamingTheParameter(string offset, string parameter)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId, offset));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.NotNull(description);
        Assert.Contains(parameter + ":", description);
    }

    [Fact]
    public async Task NonIntegerOffsetInsideJsonAnswersBadRequestEnvelope()
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license));
        using var client = factory.CreateClientWithJwt(license);
        var json = $$"""{"schedule_id":"{{schedule.ScheduleId}}","offset_start":"x1"}""";

        var response = await client.GetAsync("/enterprise/v2/query/status?json=" + Uri.EscapeDataString(json));

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("offset_start:", description);
    }
}
