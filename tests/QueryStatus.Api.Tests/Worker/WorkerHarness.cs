using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using QueryStatus.Api.Tests.Infrastructure;
using QueryStatus.Worker;
using WorkerTask = QueryStatus.Worker.WorkerTask;

namespace QueryStatus.Api.Tests.Worker;

/// <summary>
/// A QueryStatus.Worker host against a <see cref="QueryStatusFactory"/>'s service: the worker's HttpClient goes through
/// the test server, its clock is the factory's <c>FakeTimeProvider</c>, every call it makes is recorded in
/// <see cref="Calls"/>, and its logs (all levels) are collected in <see cref="Logs"/>.
/// </summary>
public sealed class WorkerHarness : IAsyncDisposable
{
    private WorkerHarness(IHost host, CallRecorder calls)
    {
        Host = host;
        Calls = calls;
    }

    public IHost Host { get; }

    public CallRecorder Calls { get; }

    public FakeLogCollector Logs => Host.Services.GetRequiredService<FakeLogCollector>();

    /// <summary>Starts a worker running <paramref name="handler"/> (one instance for every task).</summary>
    public static Task<WorkerHarness> StartAsync<THandler>(
        QueryStatusFactory factory, THandler handler, Action<QueryStatusWorkerOptions>? configure = null,
        Action<IServiceCollection>? services = null, Func<HttpRequestMessage, HttpResponseMessage?>? intercept = null)
        where THandler : class, ITaskHandler =>
        StartAsync<THandler>(factory, configure, s =>
        {
            s.AddSingleton(handler);
            services?.Invoke(s);
        }, intercept);

    /// <summary>Starts a worker whose handler DI makes; <paramref name="intercept"/> may answer a call instead of the service.</summary>
    public static async Task<WorkerHarness> StartAsync<THandler>(
        QueryStatusFactory factory, Action<QueryStatusWorkerOptions>? configure = null,
        Action<IServiceCollection>? services = null, Func<HttpRequestMessage, HttpResponseMessage?>? intercept = null)
        where THandler : class, ITaskHandler
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(
            new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddFakeLogging();
        builder.Services.AddSingleton<TimeProvider>(factory.Time);
        services?.Invoke(builder.Services);

        var calls = new CallRecorder(factory.Time);
        var server = factory.Server; // starts the service
        builder.Services.AddQueryStatusWorker<THandler>(o =>
            {
                o.BaseUrl = server.BaseAddress.ToString();
                o.ApiKey = TestKeys.Worker.Key;
                o.WorkerId = "harness";
                configure?.Invoke(o);
            })
            .ConfigurePrimaryHttpMessageHandler(() => server.CreateHandler())
            .AddHttpMessageHandler(() => new RecordingHandler(calls, intercept));

        var host = builder.Build();
        await host.StartAsync();
        return new WorkerHarness(host, calls);
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => Host.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        using var patience = new CancellationTokenSource(ClientKit.Patience);
        try
        {
            await Host.StopAsync(patience.Token);
        }
        catch (OperationCanceledException)
        {
            // Already stopped, or a test left a handler blocked: nothing more to wait for.
        }
        Host.Dispose();
    }

    /// <summary>Waits for the query's status to be <paramref name="status"/> (polling; bounded by a generous patience).</summary>
    public static async Task<JsonElement> WaitForStatusAsync(HttpClient client, string scheduleId, string status)
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var body = await client.StatusAsync(scheduleId);
            if (body.StatusCode() == status)
            {
                return body;
            }
            if (patience.IsCancellationRequested)
            {
                Assert.Fail($"Gave up waiting for {scheduleId} to be {status}; it is {body.StatusCode()}.");
            }
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// The calls of this kind, once none is waiting for its answer: the service acts on a call (a query fails or
    /// succeeds, which a test sees) before the worker has the answer and <see cref="Calls"/> records the call.
    /// </summary>
    public async Task<IReadOnlyList<WorkerCall>> AnsweredAsync(string verb)
    {
        await EventuallyAsync(() => Calls.Of(verb).Count > 0 && Calls.InFlight(verb) == 0, $"the {verb} calls answered");
        return Calls.Of(verb);
    }

    /// <summary>Waits until <paramref name="condition"/> holds (polling; bounded by a generous patience).</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (patience.IsCancellationRequested)
            {
                Assert.Fail($"Gave up waiting: {what}.");
            }
            await Task.Delay(5);
        }
    }
}

/// <summary>A worker call as it left the worker: path, body, the answer's status (null: cancelled), the fake time it was sent.</summary>
public sealed record WorkerCall(string Verb, string Path, string Body, HttpStatusCode? Status, DateTimeOffset SentAt)
{
    public JsonElement Json => ClientKit.Parse(Body);

    /// <summary>The rows of a rows or complete call, as the raw JSON text sent.</summary>
    public IReadOnlyList<string> Rows => Json.TryGetProperty("rows", out var rows) ? [.. rows.EnumerateArray().Select(r => r.GetRawText())] : [];

    public long Batch => Json.GetProperty("batch").GetInt64();
}

public sealed class CallRecorder(TimeProvider time)
{
    private readonly ConcurrentQueue<WorkerCall> _calls = new();
    private readonly ConcurrentDictionary<string, int> _inFlight = new();

    /// <summary>Calls of one kind sent and not yet answered.</summary>
    public int InFlight(string verb) => _inFlight.GetValueOrDefault(verb);

    internal void Started(string verb) => _inFlight.AddOrUpdate(verb, 1, (_, n) => n + 1);

    internal void Ended(string verb) => _inFlight.AddOrUpdate(verb, 0, (_, n) => n - 1);

    public IReadOnlyList<WorkerCall> All => [.. _calls];

    /// <summary>Finished calls of one kind ("lease", "heartbeat", "rows", "complete", "fail"), in the order they ended.</summary>
    public IReadOnlyList<WorkerCall> Of(string verb) => [.. _calls.Where(c => c.Verb == verb)];

    public int Count(string verb, HttpStatusCode? status = HttpStatusCode.OK) => _calls.Count(c => c.Verb == verb && c.Status == status);

    internal void Add(WorkerCall call) => _calls.Enqueue(call);

    internal DateTimeOffset Now => time.GetUtcNow();
}

/// <summary>Records each call; <c>intercept</c> may answer one itself (a 429, ...) without the service seeing it.</summary>
internal sealed class RecordingHandler(CallRecorder calls, Func<HttpRequestMessage, HttpResponseMessage?>? intercept) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var path = request.RequestUri!.AbsolutePath;
        var verb = path[(path.LastIndexOf('/') + 1)..];
        var sentAt = calls.Now;
        if (intercept?.Invoke(request) is { } answer)
        {
            calls.Add(new WorkerCall(verb, path, body, answer.StatusCode, sentAt));
            return answer;
        }
        calls.Started(verb);
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            calls.Add(new WorkerCall(verb, path, body, response.StatusCode, sentAt));
            return response;
        }
        catch (OperationCanceledException)
        {
            calls.Add(new WorkerCall(verb, path, body, null, sentAt));
            throw;
        }
        finally
        {
            calls.Ended(verb);
        }
    }
}

/// <summary>A handler made of a delegate, for tests.</summary>
public sealed class DelegateHandler(Func<WorkerTask, IRowSink, CancellationToken, Task> execute) : ITaskHandler
{
    private int _executions;

    public int Executions => Volatile.Read(ref _executions);

    public Task ExecuteAsync(WorkerTask task, IRowSink rows, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _executions);
        return execute(task, rows, cancellationToken);
    }
}
