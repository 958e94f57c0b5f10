using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store;

/// <summary>
/// Whatever a query leaves in the store (its run, tasks, payloads, leases, staged and result rows, batch records,
/// deadlines, its license's queue) is gone once it expired and a sweep ran: the store's holdings read zero and the
/// objects themselves can be collected. Weak references are taken in non-inlined helpers, so that no local of a
/// test method keeps what they point at alive.
/// </summary>
public sealed class ReclaimTests
{
    private static readonly TimeSpan Retention = TimeSpan.FromMinutes(1);

    /// <summary>Longer than the retention: a lease deadline left behind would outlive the run it belongs to.</summary>
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromMinutes(10);

    private static readonly PageWindow AllRows = new(0, null, 10_000);

    private readonly FakeTimeProvider _time = new(QueryStatusFactory.Start);

    private InMemoryScheduleStore NewStore(TimeSpan? maxRunTime = null, int maxAttempts = 3) => new(
        _time,
        Options.Create(new StoreOptions { Retention = Retention }),
        Options.Create(new SchedulerOptions { MaxRunTime = maxRunTime ?? TimeSpan.FromHours(4), MaxAttempts = maxAttempts }));

    private static ReadOnlyMemory<byte> Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static ReadOnlyMemory<byte>[] Rows(string prefix, int count) =>
        [.. Enumerable.Range(0, count).Select(i => Utf8($"{{\"row\":\"{prefix}-{i}\",\"pad\":\"{new string('x', 40)}\"}}"))];

    public enum Ending
    {
        Success,
        Stopped,
        TaskFailed,
        TimedOut,
        LastLeaseExpired,
    }

    /// <summary>
    /// Submits a three-task query, leases its tasks (heartbeats, staged batches, a repeated batch), ends it as
    /// <paramref name="ending"/> says, and returns weak references to its task payloads and, on success, its result rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private List<WeakReference> RunQuery(InMemoryScheduleStore store, string license, string scheduleId, Ending ending)
    {
        var refs = new List<WeakReference>();
        Wait(store.SubmitAsync(new SubmitCommand(license, scheduleId, [Utf8("{\"p\":0}"), Utf8("{\"p\":1}"), Utf8("{\"p\":2}")], null), default));
        var leased = Wait(store.LeaseAsync(new LeaseCommand("w", 10, LeaseDuration), TimeSpan.Zero, default));
        Assert.Equal(3, leased.Count);
        foreach (var task in leased)
        {
            Assert.True(MemoryMarshal.TryGetArray(task.Payload, out var payload));
            refs.Add(new WeakReference(payload.Array));
            for (var heartbeat = 0; heartbeat < 5; heartbeat++)
            {
                Assert.Equal(WriteResult.Ok, Wait(store.HeartbeatAsync(task.TaskId, task.LeaseToken, LeaseDuration, default)).Result);
            }
            Assert.Equal(WriteResult.Ok, Wait(store.AppendRowsAsync(task.TaskId, task.LeaseToken, 0, Rows(task.TaskId, 50), default)).Result);
            Assert.Equal(WriteResult.Duplicate, Wait(store.AppendRowsAsync(task.TaskId, task.LeaseToken, 0, Rows(task.TaskId, 50), default)).Result);
        }

        switch (ending)
        {
            case Ending.Success:
                foreach (var task in leased)
                {
                    Assert.Equal(WriteResult.Ok, Wait(store.CompleteAsync(task.TaskId, task.LeaseToken, Rows("last", 2), [], default)).Result);
                }
                var snapshot = Wait(store.GetStatusAsync(license, scheduleId, AllRows, default))!;
                Assert.Equal(ScheduleStatus.Success, snapshot.Status);
                Assert.Equal(3 * 52, snapshot.TotalRows);
                // The result's stored bytes: the array under the page's first segment.
                Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(snapshot.Page.Segments[0], out var stored));
                refs.Add(new WeakReference(stored.Array));
                break;
            case Ending.Stopped:
                Assert.Equal(WriteResult.Ok, Wait(store.CompleteAsync(leased[0].TaskId, leased[0].LeaseToken, [], [], default)).Result);
                Assert.Equal(WriteResult.Ok, Wait(store.StopAsync(license, scheduleId, default)).Result);
                break;
            case Ending.TaskFailed:
                Assert.Equal(WriteResult.Ok, Wait(store.FailAsync(leased[1].TaskId, leased[1].LeaseToken,
                    new TaskFailure("BROKEN", "It broke.", Retryable: false), default)).Result);
                break;
            case Ending.TimedOut:
                _time.Advance(TimeSpan.FromMinutes(5));
                Wait(store.RemoveExpiredAsync(default)); // the time step: reads apply no deadline
                break;
            case Ending.LastLeaseExpired:
                _time.Advance(LeaseDuration);
                Wait(store.RemoveExpiredAsync(default));
                break;
        }
        var status = Wait(store.GetStatusAsync(license, scheduleId, AllRows, default))!.Status;
        Assert.True(status.IsFinished(), $"{ending} left the run {status}.");
        return refs;
    }

    private static T Wait<T>(ValueTask<T> call) => call.AsTask().GetAwaiter().GetResult();

    private static void AssertCollected(List<WeakReference> refs)
    {
        for (var i = 0; i < 3 && refs.Any(r => r.IsAlive); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.All(refs, r => Assert.False(r.IsAlive, "An expired query's object is still reachable from the store."));
    }

    [Theory]
    [InlineData(Ending.Success)]
    [InlineData(Ending.Stopped)]
    [InlineData(Ending.TaskFailed)]
    [InlineData(Ending.TimedOut)]
    [InlineData(Ending.LastLeaseExpired)]
    public async Task ExpiredQueryLeavesNothingAfterOneSweep(Ending ending)
    {
        var store = NewStore(maxRunTime: ending == Ending.TimedOut ? TimeSpan.FromMinutes(5) : null,
            maxAttempts: ending == Ending.LastLeaseExpired ? 1 : 3);
        var license = TestData.NewLicenseId();
        var refs = RunQuery(store, license, TestData.NewScheduleId(), ending);

        var held = store.Holdings();
        Assert.Equal((1, 3, 1), (held.Schedules, held.Tasks, held.Licenses));

        _time.Advance(Retention);
        Assert.Equal(1, await store.RemoveExpiredAsync(default));

        Assert.Equal(default, store.Holdings());
        AssertCollected(refs);
    }

    [Fact]
    public async Task ManyExpiredQueriesOfManyLicensesLeaveNothing()
    {
        var store = NewStore();
        var refs = new List<WeakReference>();
        for (var i = 0; i < 40; i++)
        {
            refs.AddRange(RunQuery(store, $"lic_{i % 7}", $"q_{i}", (Ending)(i % 3)));
        }
        Assert.Equal(7, store.Holdings().Licenses);

        _time.Advance(Retention);
        Assert.Equal(40, await store.RemoveExpiredAsync(default));

        Assert.Equal(default, store.Holdings());
        AssertCollected(refs);
    }

    [Fact]
    public async Task HoldingsCountRowsStagedAndCommitted()
    {
        var store = NewStore();
        var license = TestData.NewLicenseId();
        await store.SubmitAsync(new SubmitCommand(license, "q", [Utf8("{}"), Utf8("{}")], null), default);
        var leased = await store.LeaseAsync(new LeaseCommand("w", 2, LeaseDuration), TimeSpan.Zero, default);
        var rows = Rows("r", 3);
        var rowBytes = rows.Sum(r => (long)r.Length);

        await store.AppendRowsAsync(leased[0].TaskId, leased[0].LeaseToken, 0, rows, default);
        await store.CompleteAsync(leased[1].TaskId, leased[1].LeaseToken, rows, [], default);

        Assert.Equal(new StoreHoldings(Schedules: 1, Tasks: 2, Rows: 6, RowBytes: 2 * rowBytes, Licenses: 1), store.Holdings());

        // A stopped run serves no rows: they are given back at once, not at expiry.
        await store.StopAsync(license, "q", default);
        Assert.Equal(new StoreHoldings(Schedules: 1, Tasks: 2, Rows: 0, RowBytes: 0, Licenses: 1), store.Holdings());
    }

    [Fact]
    public async Task LicenseKeepsItsQueueWhileAnyOfItsRunsIsHeld()
    {
        var store = NewStore();
        var license = TestData.NewLicenseId();
        RunQuery(store, license, "first", Ending.Success);
        _time.Advance(TimeSpan.FromSeconds(30));
        await store.SubmitAsync(new SubmitCommand(license, "second", [Utf8("{\"p\":9}")], null), default);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(1, await store.RemoveExpiredAsync(default));

        Assert.Equal((1L, 1L), (store.Holdings().Schedules, store.Holdings().Licenses));
        var leased = Assert.Single(await store.LeaseAsync(new LeaseCommand("w", 10, LeaseDuration), TimeSpan.Zero, default));
        Assert.Equal("second", leased.ScheduleId);
    }

    [Fact]
    public void ResubmittingAFinishedScheduleReplacesItAndItsDeadlines()
    {
        var store = NewStore();
        var license = TestData.NewLicenseId();
        var refs = RunQuery(store, license, "again", Ending.Success);
        RunQuery(store, license, "again", Ending.Success);

        Assert.Equal((1L, 3L), (store.Holdings().Schedules, store.Holdings().Tasks));
        AssertCollected(refs);
    }

    [Fact]
    public async Task SeededRunningScheduleReplacedByPutLeavesNothingOfTheFirst()
    {
        var store = NewStore();
        var license = TestData.NewLicenseId();
        await store.PutAsync(TestData.Running(license, "seeded", SubQueryState.Running, SubQueryState.Queued), default);
        await store.PutAsync(TestData.Success(license, rows: 2, scheduleId: "seeded"), default);

        Assert.Equal((1L, 2L, 2L), (store.Holdings().Schedules, store.Holdings().Tasks, store.Holdings().Rows));
        _time.Advance(Retention);
        Assert.Equal(1, await store.RemoveExpiredAsync(default));
        Assert.Equal(default, store.Holdings());
    }
}
