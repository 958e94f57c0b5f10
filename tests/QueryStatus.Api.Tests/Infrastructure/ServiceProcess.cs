using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using QueryStatus.Api.Auth;

namespace QueryStatus.Api.Tests.Infrastructure;

/// <summary>
/// The built service as its own process (<c>dotnet QueryStatus.Api.dll --urls http://127.0.0.1:port</c>), configured
/// through environment variables like a deployment: Kestrel, a real clock, real sockets, and a process that can be
/// killed (<see cref="Kill"/>, SIGKILL) while it serves. Configured as <see cref="QueryStatusFactory"/> is (the
/// <c>Testing</c> environment, the <see cref="TestKeys"/> and the <see cref="TestJwt"/> issuer), plus the settings given.
/// </summary>
/// <remarks>
/// The process is killed when this object is disposed, and by a small watch loop when the test process is gone however
/// it ended, so nothing outlives the test run. Its output (Serilog's JSON lines) is kept in memory: <see cref="Log"/>.
/// </remarks>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly ConcurrentDictionary<(string? Bearer, TimeSpan Timeout), HttpClient> _clients = new();

    private ServiceProcess(string name, Process process, int port)
    {
        Name = name;
        _process = process;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    /// <summary>What the test calls this instance (in messages and logs).</summary>
    public string Name { get; }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Set once <see cref="Kill"/> was called: callers stop choosing this instance.</summary>
    public bool Killed { get; private set; }

    /// <summary>Everything the process wrote so far, one line each.</summary>
    public IReadOnlyList<string> Log => [.. _log];

    /// <summary>The last <paramref name="lines"/> lines of <see cref="Log"/>, for failure messages.</summary>
    public string LogTail(int lines = 40) => $"--- {Name} (pid {_process.Id}, port {Port}) ---{Environment.NewLine}" +
                                             string.Join(Environment.NewLine, Log.TakeLast(lines));

    /// <summary>
    /// Starts the service with <paramref name="settings"/> (configuration keys, <c>Section:Key</c>) on a free port and
    /// returns once <c>/readyz</c> answers 200; throws with the process's output when it exits or is not ready in time.
    /// </summary>
    public static async Task<ServiceProcess> StartAsync(string name, IReadOnlyDictionary<string, string?> settings, TimeSpan? patience = null)
    {
        var port = FreePort();
        var process = Process.Start(StartInfo(port, settings)) ?? throw new InvalidOperationException("Could not start the service process.");
        Watch(process);
        var service = new ServiceProcess(name, process, port);
        service.Follow(process.StandardOutput);
        service.Follow(process.StandardError);
        try
        {
            await service.WaitUntilReadyAsync(patience ?? TimeSpan.FromSeconds(60));
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
        return service;
    }

    /// <summary>
    /// A client of this instance: <paramref name="bearer"/> as <c>Authorization: Bearer</c> when given; each call gives
    /// up after <paramref name="timeout"/> (10 s unless given). Clients are kept and disposed with the instance.
    /// </summary>
    public HttpClient Client(string? bearer = null, TimeSpan? timeout = null) =>
        _clients.GetOrAdd((bearer, timeout ?? TimeSpan.FromSeconds(10)), key =>
        {
            var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
            {
                BaseAddress = BaseAddress,
                Timeout = key.Timeout,
            };
            if (key.Bearer is not null)
            {
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Bearer);
            }
            return client;
        });

    /// <summary>Kills the process at once (SIGKILL): no shutdown, requests in flight are cut off.</summary>
    public void Kill()
    {
        Killed = true;
        _process.Kill();
    }

    /// <summary>Waits until the process is gone (after <see cref="Kill"/>).</summary>
    public async Task WaitForExitAsync(TimeSpan patience)
    {
        using var timeout = new CancellationTokenSource(patience);
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Polls <c>/readyz</c> until it answers 200; fails when the process exits first or after <paramref name="patience"/>.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan patience)
    {
        using var timeout = new CancellationTokenSource(patience);
        var probe = Client(timeout: TimeSpan.FromSeconds(5));
        string last = "no answer yet";
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"The service process exited with {_process.ExitCode} before it was ready.{Environment.NewLine}{LogTail()}");
            }
            try
            {
                using var response = await probe.GetAsync("/readyz", timeout.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(timeout.Token)}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
            {
                last = "the probe timed out";
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException(
                    $"The service was not ready within {patience} (last: {last}).{Environment.NewLine}{LogTail()}");
            }
            // A pause between probes, not a wait for anything: the loop ends on the answer.
            await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        _process.Dispose();
    }

    /// <summary>
    /// Runs the service on <paramref name="port"/> with <paramref name="settings"/> where it is expected to stop by itself
    /// (a start-up that fails), and returns how it ended: its exit code and what it wrote to standard output and error.
    /// <paramref name="patience"/> only bounds a run that does not end; nothing depends on how long it takes.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunUntilExitAsync(
        int port, IReadOnlyDictionary<string, string?> settings, TimeSpan patience)
    {
        using var process = Process.Start(StartInfo(port, settings)) ?? throw new InvalidOperationException("Could not start the service process.");
        Watch(process);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The service did not stop by itself within {patience}.");
        }
        return (process.ExitCode, await output, await error);
    }

    /// <summary>
    /// <c>dotnet QueryStatus.Api.dll --urls http://127.0.0.1:port</c>, configured with <see cref="Defaults"/> and
    /// <paramref name="settings"/> only: nothing of the test host's own environment may configure the service. The names
    /// of the settings are the configuration keys with ':' written '__', as a deployment would set them.
    /// </summary>
    private static ProcessStartInfo StartInfo(int port, IReadOnlyDictionary<string, string?> settings)
    {
        var dll = FindServiceDll();
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[dll, "--urls", $"http://127.0.0.1:{port}"])
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var inherited in info.Environment.Keys.Where(IsServiceSetting).ToList())
        {
            info.Environment.Remove(inherited);
        }
        foreach (var (key, value) in Defaults().Concat(settings))
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        return info;
    }

    /// <summary>What every test instance is configured with (as <see cref="QueryStatusFactory"/> configures its host).</summary>
    private static IEnumerable<KeyValuePair<string, string?>> Defaults()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Testing",
            ["DOTNET_ENVIRONMENT"] = "Testing",
            ["Authentication:Schemes:Bearer:ValidIssuer"] = TestJwt.Issuer,
            ["Authentication:Schemes:Bearer:ValidAudiences:0"] = TestJwt.Audience,
            ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = TestJwt.Issuer,
            ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = TestJwt.SigningKeyBase64,
            ["RateLimiting:PermitLimit"] = "1000000",
        };
        foreach (var (key, index) in TestKeys.All.Select((k, i) => (k, i)))
        {
            settings[$"Auth:ApiKeys:{index}:KeyHash"] = ApiKeyRegistry.Hash(key.Key);
            if (key.LicenseId.Length > 0)
            {
                settings[$"Auth:ApiKeys:{index}:LicenseId"] = key.LicenseId;
            }
            settings[$"Auth:ApiKeys:{index}:Name"] = key.Name;
            settings[$"Auth:ApiKeys:{index}:Disabled"] = key.Disabled ? "true" : "false";
            foreach (var (scope, s) in (key.Scopes ?? []).Select((scope, s) => (scope, s)))
            {
                settings[$"Auth:ApiKeys:{index}:Scopes:{s}"] = scope;
            }
        }
        return settings;
    }

    private static bool IsServiceSetting(string name) =>
        name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
        || name.Contains("__", StringComparison.Ordinal);

    /// <summary>
    /// The API as the build put it beside its project: <c>src/QueryStatus.Api/bin/&lt;Configuration&gt;/net10.0</c>, the
    /// configuration being the test assembly's own (the test project references the API, so building it builds both).
    /// </summary>
    private static string FindServiceDll()
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testOutput.Name;
        var configuration = testOutput.Parent?.Name;
        for (var folder = testOutput; folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, "src", "QueryStatus.Api", "bin", configuration ?? "Debug", framework, "QueryStatus.Api.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException(
            $"QueryStatus.Api.dll was not found in src/QueryStatus.Api/bin/{configuration}/{framework} above {testOutput.FullName}: build the tests first.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Kills the service when the test process is gone (a killed test host included), then ends.</summary>
    private static void Watch(Process service)
    {
        var info = new ProcessStartInfo("bash") { UseShellExecute = false };
        foreach (var argument in (string[])
                 [
                     "-c", "while [ -d /proc/$0 ] && kill -0 $1 2>/dev/null; do sleep 1; done; [ -d /proc/$0 ] || kill -9 $1 2>/dev/null",
                     Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     service.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                 ])
        {
            info.ArgumentList.Add(argument);
        }
        Process.Start(info)?.Dispose();
    }

    /// <summary>Reads a stream of the process to the end, line by line, into <see cref="Log"/> (nothing may block on a full pipe).</summary>
    private void Follow(StreamReader output) => _ = Task.Run(async () =>
    {
        while (await output.ReadLineAsync() is { } line)
        {
            _log.Enqueue(line);
        }
    });
}
