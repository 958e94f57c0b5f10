using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>
/// Settings for a fresh store of either provider, for tests that build their settings themselves. A test class that
/// runs on both providers sets <see cref="QueryStatusFactory.Provider"/> instead (see the <c>…OnPostgres</c> classes).
/// </summary>
public static class StoreProviders
{
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
}
