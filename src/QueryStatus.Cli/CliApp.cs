using System.Reflection;
using Spectre.Console;
using Spectre.Console.Cli;

namespace QueryStatus.Cli;

/// <summary>
/// <c>qs</c>: parses the command line (Spectre.Console.Cli) and runs a command in <see cref="CliEnvironment"/>.
/// <see cref="Program.Main"/> calls it with the process's console; tests call it with in-memory streams.
/// </summary>
public static class CliApp
{
    public static async Task<int> RunAsync(string[] args, CliEnvironment env)
    {
        var secrets = new Secrets(args, env.GetEnvironmentVariable(ConnectionSettings.ApiKeyVariable));
        var commands = new Commands(env, secrets);
        if (args.Length == 0)
        {
            // No command is a usage error: the help goes to standard error.
            await Build(CliEnvironment.CreateConsole(env.Error, terminal: false), commands).RunAsync(["--help"], env.Cancellation);
            return ExitCodes.Usage;
        }
        return await Build(env.Out, commands).RunAsync(Dash.Protect(args), env.Cancellation);
    }

    private static CommandApp Build(IAnsiConsole console, Commands commands)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("qs");
            config.SetApplicationVersion(Version);
            config.ConfigureConsole(console);
            config.Settings.StrictParsing = true;
            config.SetExceptionHandler((exception, _) => OnParseError(exception, commands));

            config.AddAsyncDelegate<SubmitSettings>("submit", (_, s, ct) => commands.SubmitAsync(s, ct))
                .WithDescription("Submit a query: the submit endpoint's JSON body from FILE, or - for standard input. Prints its schedule_id.")
                .WithExample("submit", "query.json")
                .WithExample("submit", "-");
            config.AddAsyncDelegate<StatusSettings>("status", (_, s, ct) => commands.StatusAsync(s, ct))
                .WithDescription("Show a query's status; --wait follows it to the end (exit 1 if it ended FAILURE or STOPPED).")
                .WithExample("status", "q_abc")
                .WithExample("status", "q_abc", "--wait");
            config.AddAsyncDelegate<RowsSettings>("rows", (_, s, ct) => commands.RowsAsync(s, ct))
                .WithDescription("Write every row of a SUCCESS query, as JSON Lines or CSV, to standard output or --out FILE.")
                .WithExample("rows", "q_abc")
                .WithExample("rows", "q_abc", "--format", "csv", "--out", "result.csv");
            config.AddAsyncDelegate<StopSettings>("stop", (_, s, ct) => commands.StopAsync(s, ct))
                .WithDescription("Stop a query that has not finished.")
                .WithExample("stop", "q_abc");
        });
        return app;
    }

    /// <summary>What the parser rejected (unknown command or option, a missing or invalid argument): exit 2.</summary>
    private static int OnParseError(Exception exception, Commands commands)
    {
        if (exception is OperationCanceledException)
        {
            return ExitCodes.Interrupted;
        }
        if (exception is CommandAppException)
        {
            commands.Fail(exception.Message.TrimEnd());
            commands.Fail("see 'qs --help', or 'qs COMMAND --help'.");
            return ExitCodes.Usage;
        }
        // The commands map their own failures; anything else is a bug of qs.
        commands.Fail($"unexpected error: {exception.GetType().Name}: {exception.Message}");
        return ExitCodes.RequestFailed;
    }

    private static string Version =>
        typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
