using System.Net;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Status;

public class StatusSmokeTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    [Fact]
    public async Task SucceededScheduleReturnsItsRowsAndCounters()
    {
        var schedule = await factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId, rows: 3));
        using var client = factory.CreateClientWithApiKey();

        var response = await client.GetAsync(HttpAssertions.StatusUrl(schedule.ScheduleId));
        var json = await response.ReadJsonAsync();

        var meta = json.GetProperty("meta");
        Assert.Equal("SUCCESS", meta.GetProperty("status_code").GetString());
        Assert.Equal(3, json.GetProperty("data").GetArrayLength());
        Assert.Equal("""{"i":1,"v":"row-1"}""", json.GetProperty("data")[1].GetRawText());
    }

    [Fact]
    public async Task UnknownScheduleIsNotFoundEnvelope()
    {
        using var client = factory.CreateClientWithApiKey();
        var response = await client.GetAsync(HttpAssertions.StatusUrl(TestData.NewScheduleId()));
        await response.AssertEnvelopeAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }
}

public sealed class StatusSmokeTestsOnPostgres(QueryStatusFactoryOnPostgres factory) : StatusSmokeTests(factory), IClassFixture<QueryStatusFactoryOnPostgres>;
