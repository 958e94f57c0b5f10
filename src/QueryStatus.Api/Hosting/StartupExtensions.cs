using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Hosting;

/// <summary>A problem found while the service starts (a setting, a file it names) that whoever deploys it must fix.</summary>
public class StartupException(string message) : Exception(message);

public static class StartupExtensions
{
    /// <summary>
    /// Runs the app; a configuration problem (an invalid option, a <see cref="StartupException"/>) stops it with a
    /// one-paragraph message and exit code 1 instead of a stack trace, so whoever deploys it sees what to fix.
    /// </summary>
    public static async Task RunOrReportAsync(this WebApplication app)
    {
        try
        {
            await app.RunAsync();
        }
        catch (Exception e) when (e is OptionsValidationException or StartupException)
        {
            // Only the app that owns the process may end quietly. Hosted in-process by someone else (a test
            // server, a tool), returning normally would hide the failure from that host, which then fails
            // later on a disposed service provider without saying why: let the cause through instead.
            if (System.Reflection.Assembly.GetEntryAssembly() != typeof(StartupExtensions).Assembly)
            {
                throw;
            }
            var message = e is OptionsValidationException options ? string.Join(Environment.NewLine, options.Failures) : e.Message;
            await Console.Error.WriteLineAsync($"QueryStatus cannot start: invalid configuration.{Environment.NewLine}{message}");
            Environment.ExitCode = 1;
        }
    }
}
