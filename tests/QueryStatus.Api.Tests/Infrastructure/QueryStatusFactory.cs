using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Store;
using Serilog.Core;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>
/// The real service over in-process HTTP, in a non-Development environment (no demo seed, no plain
/// keys), with a <see cref="FakeTimeProvider"/>, captured logs and a few known API keys. Extra
/// settings go through <see cref="Settings"/>: <c>new QueryStatusFactory { Settings = ... }</c>.
/// Tests share a factory only when they use their own schedules (see <see cref="TestData"/>); a test
/// that moves time or needs its own limits makes its own factory.
/// </summary>
/// <remarks>
/// <see cref="Provider"/> picks the store. On PostgreSQL, unless <see cref="Settings"/> name a connection string, the
/// factory takes a fresh database of the test server (<see cref="PostgresServer"/>) for itself: as a class fixture
/// before the tests (<see cref="IAsyncLifetime"/>), otherwise when its host starts.
/// </remarks>
public class QueryStatusFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Extra configuration for this factory's host, applied after the defaults above.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>The store provider (<see cref="StoreOptions.InMemoryProvider"/> unless given).</summary>
    public string Provider { get; init; } = StoreOptions.InMemoryProvider;

    private const string ConnectionStringKey = "ConnectionStrings:QueryStatus";

    /// <summary>The connection string of the database this factory created for itself, once it has.</summary>
    private string? _database;

    private bool OwnsADatabase => Provider == StoreOptions.PostgresProvider && !Settings.ContainsKey(ConnectionStringKey);

    public FakeTimeProvider Time { get; } = new(Start);

    public LogCapture Logs { get; } = new();

    public IScheduleStore Store => Services.GetRequiredService<IScheduleStore>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");

        // Console output off: the tests read logs from LogCapture.
        builder.UseSetting("Serilog:WriteTo:0:Args:restrictedToMinimumLevel", "Fatal");

        foreach (var (key, index) in TestKeys.All.Select((k, i) => (k, i)))
        {
            builder.UseSetting($"Auth:ApiKeys:{index}:KeyHash", ApiKeyRegistry.Hash(key.Key));
            if (key.LicenseId.Length > 0)
            {
                builder.UseSetting($"Auth:ApiKeys:{index}:LicenseId", key.LicenseId);
            }
            builder.UseSetting($"Auth:ApiKeys:{index}:Name", key.Name);
            builder.UseSetting($"Auth:ApiKeys:{index}:Disabled", key.Disabled ? "true" : "false");
            foreach (var (scope, s) in (key.Scopes ?? []).Select((scope, s) => (scope, s)))
            {
                builder.UseSetting($"Auth:ApiKeys:{index}:Scopes:{s}", scope);
            }
        }

        builder.UseSetting("Authentication:Schemes:Bearer:ValidIssuer", TestJwt.Issuer);
        builder.UseSetting("Authentication:Schemes:Bearer:ValidAudiences:0", TestJwt.Audience);
        builder.UseSetting("Authentication:Schemes:Bearer:SigningKeys:0:Issuer", TestJwt.Issuer);
        builder.UseSetting("Authentication:Schemes:Bearer:SigningKeys:0:Value", TestJwt.SigningKeyBase64);

        // High enough that only the rate-limit tests, which lower it, ever see a 429.
        builder.UseSetting("RateLimiting:PermitLimit", "1000000");

        builder.UseSetting("Store:Provider", Provider);
        if (OwnsADatabase)
        {
            // Not a class fixture (or it would have its database already): blocking here is once per factory, off
            // xunit's synchronization context.
            _database ??= Task.Run(PostgresServer.CreateDatabaseAsync).GetAwaiter().GetResult();
            builder.UseSetting(ConnectionStringKey, _database);
        }

        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<TimeProvider>(Time);
            services.AddSingleton<ILogEventSink>(Logs);
        });
    }

    async Task IAsyncLifetime.InitializeAsync()
    {
        if (OwnsADatabase)
        {
            _database ??= await PostgresServer.CreateDatabaseAsync();
        }
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    /// <summary>A client that sends no credential.</summary>
    public HttpClient CreateAnonymousClient() => CreateClient();

    /// <summary>A client that sends <paramref name="key"/> as <c>Authorization: Bearer</c>.</summary>
    public HttpClient CreateClientWithApiKey(TestKey? key = null)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (key ?? TestKeys.Primary).Key);
        return client;
    }

    /// <summary>
    /// A client that sends a valid JWT for <paramref name="licenseId"/>, with a <c>scope</c> claim when given,
    /// valid for <paramref name="lifetime"/> (an hour unless given) from now on <see cref="Time"/>.
    /// </summary>
    public HttpClient CreateClientWithJwt(string? licenseId, string? scope = null, TimeSpan? lifetime = null)
    {
        var client = CreateClient();
        var claims = scope is null ? null : new[] { new System.Security.Claims.Claim("scope", scope) };
        client.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Bearer", TestJwt.Create(licenseId, now: Time.GetUtcNow(), lifetime: lifetime, extraClaims: claims));
        return client;
    }

    /// <summary>A worker client (<see cref="TestKeys.Worker"/>).</summary>
    public HttpClient CreateWorkerClient() => CreateClientWithApiKey(TestKeys.Worker);
}

/// <summary>The class fixture of the tests that run on PostgreSQL (see <see cref="QueryStatusFactory.Provider"/>).</summary>
/// <remarks>
/// A <c>…OnPostgres</c> class also inherits its base class's <c>IClassFixture&lt;QueryStatusFactory&gt;</c>; xunit builds
/// that factory too, but nothing starts its host, so it costs nothing.
/// </remarks>
public class QueryStatusFactoryOnPostgres : QueryStatusFactory
{
    public QueryStatusFactoryOnPostgres()
    {
        Provider = StoreOptions.PostgresProvider;
    }
}
