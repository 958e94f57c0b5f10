using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>For tests that must hold on every store: the providers as theory data, and settings for a fresh store of each.</summary>
public static class StoreProviders
{
    public static TheoryData<string> All => [StoreOptions.InMemoryProvider, StoreOptions.PostgresProvider];

    /// <summary>
    /// Settings for a service on <paramref name="provider"/>, plus <paramref name="extra"/>: for PostgreSQL a new empty
    /// database of the test server, so that the test's data is its own.
    /// </summary>
    public static async Task<Dictionary<string, string?>> SettingsAsync(string provider, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>(extra ?? new Dictionary<string, string?>()) { ["Store:Provider"] = provider };
        if (provider == StoreOptions.PostgresProvider)
        {
            settings["ConnectionStrings:QueryStatus"] = await PostgresServer.CreateDatabaseAsync();
        }
        return settings;
    }

    /// <summary>A service on <paramref name="provider"/> (see <see cref="SettingsAsync"/>).</summary>
    public static async Task<QueryStatusFactory> FactoryAsync(string provider, IReadOnlyDictionary<string, string?>? extra = null) =>
        new() { Settings = await SettingsAsync(provider, extra) };
}
