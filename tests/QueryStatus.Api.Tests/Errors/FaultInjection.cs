using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Errors;

/// <summary>
/// A schedule store that fails every read with a fresh exception from <paramref name="fault"/>; its
/// health ping fails the same way when <paramref name="pingFails"/> is set. Seed writes are accepted and
/// dropped; scheduler writes fail like reads.
/// </summary>
public sealed class ThrowingStore(Func<Exception> fault, bool pingFails) : IScheduleStore
{
    private int _reads;

    /// <summary>How many status reads reached the store (each one threw).</summary>
    public int Reads => Volatile.Read(ref _reads);

    public ValueTask<StatusSnapshot?> GetStatusAsync(string licenseId, string scheduleId, PageWindow page, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        throw fault();
    }

    public ValueTask PutAsync(ScheduleRecord schedule, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken) => ValueTask.FromResult(0);

    public ValueTask PingAsync(CancellationToken cancellationToken) =>
        pingFails ? throw fault() : ValueTask.CompletedTask;

    public ValueTask<WriteOutcome> SubmitAsync(SubmitCommand command, CancellationToken cancellationToken) => throw fault();

    public ValueTask<WriteOutcome> StopAsync(string licenseId, string scheduleId, CancellationToken cancellationToken) => throw fault();

    public ValueTask<IReadOnlyList<LeasedTask>> LeaseAsync(LeaseCommand command, TimeSpan wait, CancellationToken cancellationToken) => throw fault();

    public ValueTask<TaskOutcome> HeartbeatAsync(string taskId, string leaseToken, TimeSpan leaseDuration, CancellationToken cancellationToken) => throw fault();

    public ValueTask<TaskOutcome> AppendRowsAsync(string taskId, string leaseToken, long batch, IReadOnlyList<ReadOnlyMemory<byte>> rows, CancellationToken cancellationToken) => throw fault();

    public ValueTask<TaskOutcome> CompleteAsync(string taskId, string leaseToken, IReadOnlyList<ReadOnlyMemory<byte>> rows, IReadOnlyList<ReadOnlyMemory<byte>> subQueries, CancellationToken cancellationToken) => throw fault();

    public ValueTask<TaskOutcome> FailAsync(string taskId, string leaseToken, TaskFailure failure, CancellationToken cancellationToken) => throw fault();

    public string Provider => "Throwing";

    public StoreHoldings Holdings() => default;
}

/// <summary>The real host with <see cref="ThrowingStore"/> in place of the in-memory store.</summary>
public abstract class FaultInjectingFactory : QueryStatusFactory
{
    protected FaultInjectingFactory(ThrowingStore store) => FaultStore = store;

    public ThrowingStore FaultStore { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IScheduleStore>(FaultStore));
    }
}

/// <summary>Every status read throws an <see cref="InvalidOperationException"/> carrying <see cref="SecretDetail"/>; the store pings fine.</summary>
public sealed class InternalFaultFactory() : FaultInjectingFactory(
    new ThrowingStore(() => new InvalidOperationException(SecretDetail), pingFails: false))
{
    public const string SecretDetail = "secret internal detail";
}

/// <summary>The store is down: reads and pings throw <see cref="StoreUnavailableException"/>.</summary>
public sealed class StoreOutageFactory() : FaultInjectingFactory(
    new ThrowingStore(() => new StoreUnavailableException(SecretDetail), pingFails: true))
{
    public const string SecretDetail = "connection refused by store-7.internal:6379";
}
