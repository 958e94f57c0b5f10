using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Hosting;

/// <summary>A problem found while the service starts (a setting, a file it names) that whoever deploys it must fix.</summary>
public class StartupException(string message) : Exception(message);

public static class StartupExtensions
{
    /// <summary>
    /// Runs the app; a problem of the deployment (an invalid option, a <see cref="StartupException"/>, an address another
    /// process holds) stops it with a one-paragraph message and exit code 1 instead of a stack trace, so whoever deploys
    /// it sees what to fix. Anything else is a bug, and ends the process with its trace as the runtime reports it.
    /// </summary>
    public static async Task RunOrReportAsync(this WebApplication app)
    {
        try
        {
            await app.RunAsync();
        }
        catch (Exception e) when (DeploymentProblem(e) is { } problem)
        {
            // Only the app that owns the process may end quietly. Hosted in-process by someone else (a test
            // server, a tool), returning normally would hide the failure from that host, which then fails
            // later on a disposed service provider without saying why: let the cause through instead.
            if (System.Reflection.Assembly.GetEntryAssembly() != typeof(StartupExtensions).Assembly)
            {
                throw;
            }
            await Console.Error.WriteLineAsync($"QueryStatus cannot start: {problem}");
            Environment.ExitCode = 1;
        }
    }

    private static string? DeploymentProblem(Exception e) => e switch
    {
        OptionsValidationException options =>
            $"invalid configuration.{Environment.NewLine}{string.Join(Environment.NewLine, options.Failures)}",
        StartupException => $"invalid configuration.{Environment.NewLine}{e.Message}",
        // Kestrel's own words name the address: "Failed to bind to address http://…: address already in use."
        IOException { InnerException: AddressInUseException } => e.Message,
        _ => null,
    };
}
