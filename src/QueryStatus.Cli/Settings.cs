using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace QueryStatus.Cli;

/// <summary>Where the service is and the credential to send: every command takes these.</summary>
public class ConnectionSettings : CommandSettings
{
    public const string UrlVariable = "QS_URL";
    public const string ApiKeyVariable = "QS_API_KEY";
    public const string DefaultUrl = "http://localhost:5080";

    [CommandOption("--url <URL>")]
    [Description("The service's base URL. Default: $QS_URL, else " + DefaultUrl + ".")]
    public string? Url { get; set; }

    [CommandOption("--api-key <KEY>")]
    [Description("API key (or JWT), sent as Authorization: Bearer. Default: $QS_API_KEY. Never printed.")]
    public string? ApiKey { get; set; }
}

/// <summary>The commands that name one query.</summary>
public class ScheduleSettings : ConnectionSettings
{
    private string _scheduleId = "";

    [CommandArgument(0, "<schedule_id>")]
    [Description("The query's schedule ID.")]
    public string ScheduleId { get => _scheduleId; set => _scheduleId = Dash.Restore(value); }
}

public sealed class SubmitSettings : ConnectionSettings
{
    private string _file = "";

    [CommandArgument(0, "<file>")]
    [Description("The submit endpoint's JSON body ({\"schedule_id\"?, \"subqueries\", \"not_before\"?}); - reads it from standard input.")]
    public string File { get => _file; set => _file = Dash.Restore(value); }
}

public sealed class StatusSettings : ScheduleSettings
{
    [CommandOption("-w|--wait")]
    [Description("Wait until the query has finished, showing its progress; exit 1 if it ended FAILURE or STOPPED.")]
    public bool Wait { get; set; }

    [CommandOption("--json")]
    [Description("Print the status as one line of JSON (the endpoint's meta) instead of text.")]
    public bool Json { get; set; }
}

public sealed class RowsSettings : ScheduleSettings
{
    public const string JsonLines = "jsonl";
    public const string Csv = "csv";

    [CommandOption("-f|--format <FORMAT>")]
    [Description("jsonl (each row as the service returned it, one a line) or csv (header from the first row's keys).")]
    [DefaultValue(JsonLines)]
    public string Format { get; set; } = JsonLines;

    private string? _out;

    [CommandOption("-o|--out <FILE>")]
    [Description("Write the rows to FILE (replaced only once every row is written) instead of standard output; - is standard output.")]
    public string? Out { get => _out; set => _out = value is null ? null : Dash.Restore(value); }

    [CommandOption("--page-size <ROWS>")]
    [Description("Rows per request (default: the service's page cap).")]
    public int? PageSize { get; set; }

    public override ValidationResult Validate()
    {
        if (!string.Equals(Format, JsonLines, StringComparison.OrdinalIgnoreCase) && !string.Equals(Format, Csv, StringComparison.OrdinalIgnoreCase))
        {
            return ValidationResult.Error($"--format must be {JsonLines} or {Csv}, not '{Format}'.");
        }
        if (PageSize is < 1 or > 1_000_000)
        {
            return ValidationResult.Error("--page-size must be between 1 and 1000000.");
        }
        if (Out is { Length: 0 })
        {
            return ValidationResult.Error("--out needs a file name.");
        }
        return ValidationResult.Success();
    }

    public bool IsCsv => string.Equals(Format, Csv, StringComparison.OrdinalIgnoreCase);
}

public sealed class StopSettings : ScheduleSettings;

/// <summary>
/// A lone <c>-</c> (standard input or output, by convention) is not an argument Spectre.Console.Cli accepts: it takes it
/// for an option without a name. <see cref="CliApp"/> hands it over as <see cref="StandIn"/>, which no real argument can
/// be (it holds a NUL), and the settings turn it back into <c>-</c>.
/// </summary>
internal static class Dash
{
    public const string StandIn = "\0-";

    public static string[] Protect(string[] args) => [.. args.Select(a => a == "-" ? StandIn : a)];

    public static string Restore(string value) => value == StandIn ? "-" : value;
}
