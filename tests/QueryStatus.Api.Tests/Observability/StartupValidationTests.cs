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
        // The host logs why it failed to start. What CreateClient throws is usually that same error, but when the
        // entry point disposes the failed host first the test host sees only an ObjectDisposedException.
        var logged = factory.Logs.Events.Where(e => e.Exception is not null).SelectMany(e => Messages(e.Exception));
        Assert.Contains(Messages(error).Concat(logged), m => m.Contains(setting, StringComparison.Ordinal));
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
