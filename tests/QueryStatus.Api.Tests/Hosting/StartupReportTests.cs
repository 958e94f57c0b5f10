using System.Net;
using System.Net.Sockets;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Hosting;

/// <summary>
/// The service as its own process, started on a port another process already holds: a mistake of the deployment, which
/// must end the process with one line saying what to fix and exit code 1, not with a crash and a stack trace.
/// </summary>
public sealed class StartupReportTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private static async Task<(int ExitCode, string Output, string Error, int Port)> StartOnATakenPortAsync()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var (exitCode, output, error) = await ServiceProcess.RunUntilExitAsync(port, new Dictionary<string, string?>(), Patience);
        return (exitCode, output, error, port);
    }

    [Fact]
    public async Task PortInUseEndsStartupWithOneLineAndExitCodeOne()
    {
        var run = await StartOnATakenPortAsync();

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(
            $"QueryStatus cannot start: Failed to bind to address http://127.0.0.1:{run.Port}: address already in use.",
            run.Error.Trim());
    }

    [Fact]
    public async Task PortInUseLogsNoBackgroundServiceFault()
    {
        var run = await StartOnATakenPortAsync();

        // The failed start itself is logged (the framework's "Hosting failed to start"); a cancelled background service
        // is not a second fault, and nothing is Fatal.
        Assert.Contains("Hosting failed to start", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("BackgroundService failed", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\"@l\":\"Fatal\"", run.Output, StringComparison.Ordinal);
    }
}
