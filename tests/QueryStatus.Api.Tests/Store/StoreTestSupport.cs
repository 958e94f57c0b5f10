using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using QueryStatus.Api.Store;
using QueryStatus.Api.Store.Postgres;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store;

/// <summary>A seed file in its own temporary folder, deleted (folder and all) on dispose.</summary>
public sealed class TempSeedFile : IDisposable
{
    private readonly string _folder;

    private TempSeedFile(string folder, string path)
    {
        _folder = folder;
        Path = path;
    }

    /// <summary>Absolute path of the file (it may not exist, see <see cref="Missing"/>).</summary>
    public string Path { get; }

    /// <summary>Writes <paramref name="json"/> as UTF-8 without a byte order mark, byte for byte.</summary>
    public static TempSeedFile Write(string json) => WriteBytes(new UTF8Encoding(false).GetBytes(json));

    public static TempSeedFile WriteBytes(byte[] bytes)
    {
        var file = Missing();
        File.WriteAllBytes(file.Path, bytes);
        return file;
    }

    /// <summary>A path in a fresh temporary folder where no file exists.</summary>
    public static TempSeedFile Missing()
    {
        var folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"qs-seed-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        return new TempSeedFile(folder, System.IO.Path.Combine(folder, "seed.json"));
    }

    /// <summary><c>{"schedules":[entries...]}</c> with each entry written as given.</summary>
    public static TempSeedFile WithSchedules(params string[] entries) =>
        Write("{ \"schedules\": [\n  " + string.Join(",\n  ", entries) + "\n] }");

    /// <summary>A factory whose host loads this file as <c>Store:SeedFile</c>, plus any extra settings.</summary>
    public QueryStatusFactory CreateFactory(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?> { ["Store:SeedFile"] = Path };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }
        return new QueryStatusFactory { Settings = settings };
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}

/// <summary>
/// Exception chains, counters and store set-ups for the store tests; status calls and readers are in <see cref="ClientKit"/>.
/// </summary>
public static class StoreTestHelpers
{
    /// <summary>A data source on a new database of the shared PostgreSQL server, its schema migrated.</summary>
    public static async Task<NpgsqlDataSource> MigratedDataSourceAsync()
    {
        var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync());
        await PostgresMigrator.MigrateAsync(dataSource, NullLogger.Instance, CancellationToken.None);
        return dataSource;
    }

    /// <summary>A run of license <c>lic</c> that succeeded with these rows: one sub-query submitted, leased and completed.</summary>
    public static async Task SucceedAsync(IScheduleStore store, string scheduleId, ReadOnlyMemory<byte>[] rows)
    {
        Assert.Equal(WriteResult.Ok, (await store.SubmitAsync(new SubmitCommand("lic", scheduleId, [Encoding.UTF8.GetBytes("{}")], null), CancellationToken.None)).Result);
        var task = Assert.Single(await store.LeaseAsync(new LeaseCommand("w", 1, TimeSpan.FromHours(1)), TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(WriteResult.Ok, (await store.CompleteAsync(task.TaskId, task.LeaseToken, rows, [], CancellationToken.None)).Result);
    }

    /// <summary>Every message in the exception's chain (inner and aggregated exceptions), one per line.</summary>
    public static string MessageChain(Exception exception) => string.Join(Environment.NewLine, Chain(exception).Select(e => e.Message));

    public static IEnumerable<Exception> Chain(Exception exception)
    {
        var pending = new Stack<Exception>();
        pending.Push(exception);
        while (pending.TryPop(out var current))
        {
            yield return current;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.Reverse())
                {
                    pending.Push(inner);
                }
            }
            else if (current.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }

    public static int Counter(this JsonElement body, string group, string name) =>
        body.GetProperty("meta").GetProperty(group).GetProperty(name).GetInt32();

    public static string Utf8(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);
}

/// <summary>
/// A <see cref="TimeProvider"/> over the factory's <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/>
/// that records the <see cref="PeriodicTimer"/>s created on it, by period, and counts their ticks. Advancing
/// the fake clock runs due timer callbacks on the advancing thread, so tick counts are exact right after
/// <c>Advance</c> returns.
/// </summary>
public sealed class TimerWatchingTimeProvider(TimeProvider inner) : TimeProvider
{
    private readonly ConcurrentDictionary<TimeSpan, int> _created = new();
    private readonly ConcurrentDictionary<TimeSpan, int> _ticks = new();

    public int PeriodicTimersCreated(TimeSpan period) => _created.GetValueOrDefault(period);

    public int PeriodicTimerTicks(TimeSpan period) => _ticks.GetValueOrDefault(period);

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var isPeriodicTimer = callback.Method.DeclaringType?.FullName?.StartsWith(typeof(PeriodicTimer).FullName!, StringComparison.Ordinal) == true;
        if (!isPeriodicTimer)
        {
            return inner.CreateTimer(callback, state, dueTime, period);
        }

        _created.AddOrUpdate(period, 1, (_, n) => n + 1);
        return inner.CreateTimer(
            s =>
            {
                _ticks.AddOrUpdate(period, 1, (_, n) => n + 1);
                callback(s);
            },
            state, dueTime, period);
    }
}

/// <summary>The real host, whose services see time through a <see cref="TimerWatchingTimeProvider"/> over <see cref="QueryStatusFactory.Time"/>.</summary>
public sealed class TimerWatchingFactory : QueryStatusFactory
{
    public TimerWatchingFactory() => Timers = new TimerWatchingTimeProvider(Time);

    public TimerWatchingTimeProvider Timers { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Timers));
    }
}
