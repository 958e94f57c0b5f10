using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;
using QueryStatus.Client;
using Spectre.Console;

namespace QueryStatus.Cli;

/// <summary>
/// The four commands over <see cref="QueryStatusClient"/>. Each maps what went wrong to an exit code (see
/// <see cref="ExitCodes"/>) and a message on standard error, which never holds the credential.
/// </summary>
internal sealed class Commands(CliEnvironment env, Secrets secrets)
{
    // ---- submit ------------------------------------------------------------------------------------

    public Task<int> SubmitAsync(SubmitSettings settings, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        using var body = await ReadBodyAsync(settings.File, cancellationToken);
        using var connection = Connect(settings);
        var state = await connection.Client.SubmitAsync(body.RootElement, cancellationToken);
        // Only the ID on standard output, so that ID=$(qs submit query.json) works.
        env.Out.WriteLine(state.ScheduleId);
        return ExitCodes.Success;
    }, cancellationToken);

    private async Task<JsonDocument> ReadBodyAsync(string file, CancellationToken cancellationToken)
    {
        var fromStdin = file == "-";
        var source = fromStdin ? "standard input" : file;
        string text;
        try
        {
            text = fromStdin ? await env.In.ReadToEndAsync(cancellationToken) : await File.ReadAllTextAsync(file, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"cannot read {source}: {e.Message}", e);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new UsageException($"{source} is not JSON: {e.Message}", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new UsageException(
                $"{source} must hold a JSON object, the submit endpoint's body: {{\"schedule_id\"?, \"subqueries\": [...], \"not_before\"?}}.");
        }
        return document;
    }

    // ---- status ------------------------------------------------------------------------------------

    public Task<int> StatusAsync(StatusSettings settings, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        using var connection = Connect(settings);
        if (!settings.Wait)
        {
            WriteState(await connection.Client.GetStatusAsync(settings.ScheduleId, cancellationToken), settings.Json);
            return ExitCodes.Success;
        }

        var final = env.Out.Profile.Capabilities.Interactive && !settings.Json
            ? await WaitWithProgressBarAsync(connection.Client, settings.ScheduleId, cancellationToken)
            : await WaitWithLinesAsync(connection.Client, settings.ScheduleId, quiet: settings.Json, cancellationToken);
        WriteState(final, settings.Json);
        return final.StatusCode == QueryStatusCodes.Success ? ExitCodes.Success : ExitCodes.QueryNotSucceeded;
    }, cancellationToken);

    /// <summary>
    /// Not a terminal: one line per change, <c>RUNNING 3/10</c>, for a log or a pipe. Quiet (<c>--json</c>), without a
    /// progress to report, so that each long-poll waits for the finish rather than for the next change.
    /// </summary>
    private Task<QueryState> WaitWithLinesAsync(QueryStatusClient client, string scheduleId, bool quiet, CancellationToken cancellationToken) =>
        client.WaitAsync(scheduleId, quiet ? null : new InlineProgress<WaitProgress>(p => env.Out.WriteLine(ProgressLine(p))), cancellationToken);

    public static string ProgressLine(WaitProgress p) =>
        string.Create(CultureInfo.InvariantCulture, $"{p.StatusCode} {p.QueriesReady}/{p.QueriesTotal}");

    /// <summary>A terminal: a live bar of queries_ready / queries_total, its label the status.</summary>
    private Task<QueryState> WaitWithProgressBarAsync(QueryStatusClient client, string scheduleId, CancellationToken cancellationToken) =>
        env.Out.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var bar = context.AddTask(Markup.Escape($"{scheduleId} …"), maxValue: 1);
                var final = await client.WaitAsync(scheduleId, new InlineProgress<WaitProgress>(p =>
                {
                    bar.MaxValue = Math.Max(1, p.QueriesTotal);
                    bar.Value = p.QueriesReady;
                    bar.Description = Markup.Escape($"{scheduleId} {ProgressLine(p)}");
                }), cancellationToken);
                bar.StopTask();
                context.Refresh();
                return final;
            });

    // ---- rows --------------------------------------------------------------------------------------

    public Task<int> RowsAsync(RowsSettings settings, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        using var connection = Connect(settings, o => o.PageSize = settings.PageSize);
        using var sink = settings.Out is { } path and not "-" ? RowSink.ToFile(path) : RowSink.ToStandardOutput(env.RawOut);
        IRowWriter writer = settings.IsCsv ? new CsvRowWriter(sink.Stream, Warn) : new JsonLinesRowWriter(sink.Stream);
        try
        {
            await foreach (var row in connection.Client.ReadRawRowsAsync(settings.ScheduleId, cancellationToken))
            {
                writer.Write(row.Span);
            }
        }
        finally
        {
            // What was written so far goes out even when the reading stops half-way (standard output only; a file is dropped).
            writer.Flush();
        }
        sink.Commit();
        return ExitCodes.Success;
    }, cancellationToken);

    // ---- stop --------------------------------------------------------------------------------------

    public Task<int> StopAsync(StopSettings settings, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        using var connection = Connect(settings);
        WriteState(await connection.Client.StopAsync(settings.ScheduleId, cancellationToken), json: false);
        return ExitCodes.Success;
    }, cancellationToken);

    // ---- output ------------------------------------------------------------------------------------

    /// <summary>The status as <c>name  value</c> lines (stable names, for people and for grep), or as one line of JSON.</summary>
    private void WriteState(QueryState state, bool json)
    {
        if (json)
        {
            env.Out.Profile.Out.Writer.WriteLine(StateAsJson(state));
            env.Out.Profile.Out.Writer.Flush();
            return;
        }
        Line("schedule_id", state.ScheduleId);
        Line("status", state.StatusCode, StatusStyle(state.StatusCode));
        Line("progress", string.Create(CultureInfo.InvariantCulture, $"{state.Progress.QueriesReady}/{state.Progress.QueriesTotal}"));
        if (state.StatusCode == QueryStatusCodes.Success)
        {
            Line("total_rows", state.Paging.TotalRows.ToString(CultureInfo.InvariantCulture));
        }
        if (state.Failure is { } failure)
        {
            Line("failure", $"{failure.Code}: {failure.Message}", Color.Red);
        }
        if (state.ExpiresAt is { } expires)
        {
            Line("expires_at", expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }

        void Line(string name, string value, Style? style = null)
        {
            env.Out.Write(new Text(name.PadRight(13)));
            env.Out.Write(new Text(value, style ?? Style.Plain));
            env.Out.WriteLine();
        }
    }

    /// <summary>The same fields as the text, as one line of JSON named as the status endpoint names them.</summary>
    public static string StateAsJson(QueryState state)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("schedule_id", state.ScheduleId);
            json.WriteString("status_code", state.StatusCode);
            json.WriteStartObject("progress");
            json.WriteNumber("queries_ready", state.Progress.QueriesReady);
            json.WriteNumber("queries_total", state.Progress.QueriesTotal);
            json.WriteEndObject();
            json.WriteNumber("total_rows", state.Paging.TotalRows);
            if (state.Failure is { } failure)
            {
                json.WriteStartObject("failure");
                json.WriteString("code", failure.Code);
                json.WriteString("message", failure.Message);
                json.WriteEndObject();
            }
            if (state.ExpiresAt is { } expires)
            {
                json.WriteString("expires_at", expires.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static Style StatusStyle(string status) => status switch
    {
        QueryStatusCodes.Success => new Style(Color.Green),
        QueryStatusCodes.Failure => new Style(Color.Red),
        QueryStatusCodes.Stopped => new Style(Color.Yellow),
        _ => new Style(Color.Blue),
    };

    private void Warn(string message) => env.Error.WriteLine(secrets.Redact($"qs: warning: {message}"));

    /// <summary>Writes <c>qs: message</c> to standard error, without the credential.</summary>
    public void Fail(string message) => env.Error.WriteLine(secrets.Redact($"qs: {message}"));

    // ---- connection and errors ---------------------------------------------------------------------

    private sealed class Connection(ServiceProvider services, QueryStatusClient client) : IDisposable
    {
        public QueryStatusClient Client { get; } = client;

        public void Dispose() => services.Dispose();
    }

    /// <summary>A client as an application registers one (<c>AddQueryStatusClient</c>: credential, retries of 429/503).</summary>
    private Connection Connect(ConnectionSettings settings, Action<QueryStatusClientOptions>? more = null)
    {
        var url = settings.Url ?? NonEmpty(env.GetEnvironmentVariable(ConnectionSettings.UrlVariable)) ?? ConnectionSettings.DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--url must be an absolute http or https URL, not '{url}'.");
        }
        var key = settings.ApiKey ?? NonEmpty(env.GetEnvironmentVariable(ConnectionSettings.ApiKeyVariable));
        if (string.IsNullOrEmpty(key))
        {
            throw new UsageException($"no API key: give --api-key KEY or set {ConnectionSettings.ApiKeyVariable}.");
        }

        var services = new ServiceCollection();
        services.AddSingleton(env.Time);
        var http = services.AddQueryStatusClient(o =>
        {
            o.BaseAddress = baseAddress;
            o.ApiKey = key;
            // A 429 or 503 is retried after its Retry-After, a failed read a few seconds later: twice, so that a
            // service that is down is reported in seconds, not after the library's minute of backing off.
            o.MaxRetries = 2;
            more?.Invoke(o);
        });
        if (env.Handler is { } handler)
        {
            http.ConfigurePrimaryHttpMessageHandler(handler);
        }
        var provider = services.BuildServiceProvider();
        try
        {
            return new Connection(provider, provider.GetRequiredService<QueryStatusClient>());
        }
        catch (OptionsValidationException e)
        {
            provider.Dispose();
            throw new UsageException(string.Join(" ", e.Failures), e);
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private async Task<int> GuardAsync(Func<Task<int>> command, CancellationToken cancellationToken)
    {
        try
        {
            return await command();
        }
        catch (UsageException e)
        {
            Fail(e.Message);
            return ExitCodes.Usage;
        }
        catch (QueryNotSucceededException e)
        {
            Fail(e.Message);
            return ExitCodes.QueryNotSucceeded;
        }
        catch (QueryStatusException e)
        {
            Fail(e.Description is null ? $"{e.Code}: {e.ErrorMessage}" : $"{e.Code}: {e.ErrorMessage} {e.Description}");
            Fail($"HTTP {e.StatusCode}, request_id: {e.RequestId ?? "(none)"}");
            return ExitCodes.RequestFailed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Fail("interrupted.");
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is HttpRequestException or ExecutionRejectedException or OperationCanceledException)
        {
            // No answer at all (refused, DNS, TLS), or none in time (a timeout), or the circuit breaker is open.
            Fail($"no answer from the service: {Messages(e)}");
            return ExitCodes.RequestFailed;
        }
        catch (JsonException e)
        {
            Fail($"the answer is not the QueryStatus API's (is --url right?): {e.Message}");
            return ExitCodes.RequestFailed;
        }
        catch (IOException e)
        {
            Fail($"cannot write the output: {e.Message}");
            return ExitCodes.Usage;
        }
    }

    private static string Messages(Exception e) =>
        e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({Messages(inner)})" : e.Message;

    /// <summary>Reports on the calling thread, in order (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
