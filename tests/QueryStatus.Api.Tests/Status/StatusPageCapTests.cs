using System.Globalization;
using System.Net;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Status.StatusTestKit;

namespace QueryStatus.Api.Tests.Status;

/// <summary>A host whose page cap (Paging:MaxRows) is 100 rows.</summary>
public class SmallPageCapFactory : QueryStatusFactory
{
    public const int MaxRows = 100;

    public SmallPageCapFactory()
    {
        Settings = new Dictionary<string, string?> { ["Paging:MaxRows"] = MaxRows.ToString(CultureInfo.InvariantCulture) };
    }
}

public sealed class SmallPageCapFactoryOnPostgres : SmallPageCapFactory
{
    public SmallPageCapFactoryOnPostgres()
    {
        Provider = StoreOptions.PostgresProvider;
    }
}

/// <summary>The configured page cap bounds both the default page and the widest window a client may ask for.</summary>
public class StatusPageCapTests(SmallPageCapFactory factory) : IClassFixture<SmallPageCapFactory>
{
    private async Task<(HttpClient Client, string ScheduleId)> SucceededScheduleAsync(int rows)
    {
        var license = TestData.NewLicenseId();
        var schedule = await factory.PutAsync(TestData.Success(license, rows));
        return (factory.CreateJwtClient(license), schedule.ScheduleId);
    }

    [Fact]
    public async Task DefaultPagesHoldTheConfiguredCapAndConcatenateToTheResult()
    {
        var (client, id) = await SucceededScheduleAsync(250);
        using var _ = client;

        var first = await client.GetOkAsync(Url(("schedule_id", id)));
        var second = await client.GetOkAsync(Url(("schedule_id", id), ("offset_start", "100")));
        var third = await client.GetOkAsync(Url(("schedule_id", id), ("offset_start", "200")));

        Assert.Equal((100L, (long?)100L), (first.Paging().GetProperty("offset_end").GetInt64(), first.NextOffsetStart()));
        Assert.Equal((200L, (long?)200L), (second.Paging().GetProperty("offset_end").GetInt64(), second.NextOffsetStart()));
        Assert.Equal((250L, (long?)null), (third.Paging().GetProperty("offset_end").GetInt64(), third.NextOffsetStart()));
        Assert.Equal(
            Enumerable.Range(0, 250).Select(i => DefaultRow(i)),
            first.RawRows().Concat(second.RawRows()).Concat(third.RawRows()));
    }

    [Theory]
    [InlineData("0", "100")]
    [InlineData("150", "250")]
    [InlineData("999900", "1000000")]
    public async Task WindowOfExactlyTheConfiguredCapIsAccepted(string offsetStart, string offsetEnd)
    {
        var (client, id) = await SucceededScheduleAsync(250);
        using var _ = client;

        var body = await client.GetOkAsync(Url(("schedule_id", id), ("offset_start", offsetStart), ("offset_end", offsetEnd)));

        var expected = Math.Max(0, Math.Min(long.Parse(offsetEnd), 250) - long.Parse(offsetStart));
        Assert.Equal(expected, body.RawRows().Count);
    }

    [Theory]
    [InlineData("0", "101")]
    [InlineData("150", "251")]
    [InlineData("0", "10000")]
    [InlineData("999899", "1000000")]
    public async Task WindowWiderThanTheConfiguredCapReturnsBadRequest(string offsetStart, string offsetEnd)
    {
        var (client, id) = await SucceededScheduleAsync(250);
        using var _ = client;

        using var response = await client.GetAsync(Url(("schedule_id", id), ("offset_start", offsetStart), ("offset_end", offsetEnd)));

        var description = await response.AssertBadRequestNamingAsync("offset_end");
        Assert.Contains("100 rows", description);
    }

    [Fact]
    public async Task WindowWiderThanTheConfiguredCapInsideJsonReturnsBadRequest()
    {
        var (client, id) = await SucceededScheduleAsync(250);
        using var _ = client;

        using var response = await client.GetAsync(JsonUrl($$"""{"schedule_id":"{{id}}","offset_start":"10","offset_end":111}"""));

        await response.AssertBadRequestNamingAsync("offset_end");
    }

    [Fact]
    public async Task WindowWiderThanTheCapIsRejectedEvenBeforeTheScheduleHasRows()
    {
        var license = TestData.NewLicenseId();
        var running = await factory.PutAsync(TestData.Running(license));
        using var client = factory.CreateJwtClient(license);

        using var response = await client.GetAsync(Url(("schedule_id", running.ScheduleId), ("offset_end", "101")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await response.AssertBadRequestNamingAsync("offset_end");
    }
}

public sealed class StatusPageCapTestsOnPostgres(SmallPageCapFactoryOnPostgres factory) : StatusPageCapTests(factory), IClassFixture<SmallPageCapFactoryOnPostgres>;
