using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Observability;

public sealed class StartupValidationTests
{
    private static IEnumerable<string> Messages(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            yield return e.Message;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Messages))
                {
                    yield return inner;
                }
            }
        }
    }

    [Theory]
    [InlineData("Paging:MaxRows", "0")]
    [InlineData("RateLimiting:PermitLimit", "0")]
    [InlineData("Store:Retention", "-00:00:01")]
    public void InvalidSettingStopsTheHostFromStartingWithAMessageNamingIt(string setting, string value)
    {
        using var factory = new QueryStatusFactory { Settings = new Dictionary<string, string?> { [setting] = value } };

        var error = Record.Exception(() => factory.CreateClient());

        Assert.NotNull(error);
        Assert.Contains(Messages(error), m => m.Contains(setting, StringComparison.Ordinal));
    }

    [Fact]
    public async Task BoundaryValuesOfTheSameSettingsLetTheHostStart()
    {
        using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Paging:MaxRows"] = "1",
                ["RateLimiting:PermitLimit"] = "1",
                ["Store:Retention"] = "00:00:01",
            },
        };

        using var client = factory.CreateClient();
        var response = await client.GetAsync("/healthz");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
