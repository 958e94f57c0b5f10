using Microsoft.Playwright;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>
/// The real service listening on a loopback socket (Kestrel on 127.0.0.1, a port the OS picks) and a headless
/// Chromium to drive pages of it. A browser cannot reach the in-memory TestServer, so this is the one fixture that
/// opens a real port. The Chromium is the machine's own (Debian's <c>chromium</c> package, or <c>QS_CHROMIUM</c>):
/// Playwright's driver comes inside its NuGet package and never downloads a browser.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumVariable = "QS_CHROMIUM";
    public const string DefaultChromium = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    /// <summary>The service: seed it through <see cref="TestData.PutAsync"/> as with the in-memory one.</summary>
    public QueryStatusFactory Factory { get; } = new();

    /// <summary>Where the service listens, e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("The browser has not been started.");

    /// <summary>
    /// The Chromium binary to drive: <c>QS_CHROMIUM</c> when set, otherwise <see cref="DefaultChromium"/>. Missing,
    /// it throws with how to install one, so that a machine without a browser fails the browser tests rather than
    /// skipping them.
    /// </summary>
    public static string FindChromium()
    {
        var configured = Environment.GetEnvironmentVariable(ChromiumVariable);
        var path = string.IsNullOrWhiteSpace(configured) ? DefaultChromium : configured;
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Chromium not found{(string.IsNullOrWhiteSpace(configured) ? $" at {DefaultChromium}" : $" at {path} ({ChromiumVariable})")}: " +
                $"install it with `apt-get install chromium` (Debian) or set {ChromiumVariable} to a Chromium binary.");
        }
        return path;
    }

    public async Task InitializeAsync()
    {
        var chromium = FindChromium();

        Factory.UseKestrel(0);
        Factory.StartServer();
        BaseAddress = Factory.ClientOptions.BaseAddress;
        if (BaseAddress.Port == 0 || !BaseAddress.IsLoopback)
        {
            throw new InvalidOperationException($"The service did not report a loopback address it listens on (got {BaseAddress}).");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // Tests run as root in CI, where Chromium's sandbox cannot start.
            Args = ["--no-sandbox"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
        _playwright?.Dispose();
        await Factory.DisposeAsync();
    }
}
