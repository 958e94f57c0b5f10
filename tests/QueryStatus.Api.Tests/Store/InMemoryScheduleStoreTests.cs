using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Store;

public sealed class InMemoryScheduleStoreTests
{
    private static readonly PageWindow AllRows = new(0, null, 10_000);

    private readonly FakeTimeProvider _time = new(QueryStatusFactory.Start);
    private readonly InMemoryScheduleStore _store;
    private readonly string _license = TestData.NewLicenseId();

    public InMemoryScheduleStoreTests() => _store = new InMemoryScheduleStore(_time, Options.Create(new StoreOptions()));

    private static ScheduleRecord Record(ScheduleStatus status, SubQueryState[] tasks, RowBuffer? rows = null, Failure? failure = null,
        DateTimeOffset? finishedAt = null, string? scheduleId = null, string license = "lic_x") =>
        new(scheduleId ?? TestData.NewScheduleId(), license, status, tasks, rows ?? RowBuffer.Empty, failure, finishedAt);

    private async Task<StatusSnapshot> ReadAsync(string scheduleId, PageWindow? window = null) =>
        await _store.GetStatusAsync(_license, scheduleId, window ?? AllRows, CancellationToken.None)
        ?? throw new Xunit.Sdk.XunitException($"Schedule {scheduleId} was not found.");

    private static string[] Rows(StatusSnapshot snapshot)
    {
        var rows = new List<string>();
        foreach (var row in snapshot.Page)
        {
            rows.Add(StoreTestHelpers.Utf8(row));
        }
        return [.. rows];
    }

    public static TheoryData<string, ScheduleRecord, string> InconsistentRecords => new()
    {
        { "SUCCESS with a RUNNING task", Record(ScheduleStatus.Success, [SubQueryState.Done, SubQueryState.Running]), "SUCCESS needs every sub-query DONE" },
        { "QUEUED with a DONE task", Record(ScheduleStatus.Queued, [SubQueryState.Done]), "QUEUED means no sub-query has started" },
        { "SCHEDULED without tasks", Record(ScheduleStatus.Scheduled, []), "SCHEDULED needs at least one sub-query" },
        { "RUNNING with every task DONE", Record(ScheduleStatus.Running, [SubQueryState.Done]), "RUNNING needs at least one sub-query that is not DONE" },
        { "STOPPED with a QUEUED task", Record(ScheduleStatus.Stopped, [SubQueryState.Queued]), "STOPPED is finished" },
        { "FAILURE without failure", Record(ScheduleStatus.Failure, [SubQueryState.Done]), "FAILURE needs failure {code, message}" },
        { "failure on a SUCCESS", Record(ScheduleStatus.Success, [SubQueryState.Done], failure: new Failure("X", "Y")), "failure is only allowed with FAILURE, not SUCCESS" },
        { "blank failure code", Record(ScheduleStatus.Failure, [SubQueryState.Done], failure: new Failure(" ", "Y")), "failure needs a non-empty code and message" },
        { "rows on a RUNNING", Record(ScheduleStatus.Running, [SubQueryState.Running], rows: TestData.Rows(1)), "a RUNNING schedule cannot have rows" },
        { "finished_at on a QUEUED", Record(ScheduleStatus.Queued, [SubQueryState.Queued], finishedAt: QueryStatusFactory.Start), "finished_at is only allowed on a finished schedule, not QUEUED" },
        { "bad schedule id", Record(ScheduleStatus.Success, [SubQueryState.Done], scheduleId: "has space"), "schedule_id must be" },
        { "blank license", Record(ScheduleStatus.Success, [SubQueryState.Done], license: " "), "license_id is required" },
    };

    [Theory]
    [MemberData(nameof(InconsistentRecords))]
    public async Task PutRejectsAnInconsistentRecordAndStoresNothing(string why, ScheduleRecord record, string problem)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await _store.PutAsync(record, CancellationToken.None));

        Assert.Equal("schedule", error.ParamName);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.Contains(record.ScheduleId, error.Message, StringComparison.Ordinal);
        Assert.True(await _store.GetStatusAsync(record.LicenseId, record.ScheduleId, AllRows, CancellationToken.None) is null, why);
    }

    [Fact]
    public async Task AnotherLicensesScheduleIsNull()
    {
        var schedule = TestData.Success(_license);
        await _store.PutAsync(schedule, CancellationToken.None);

        Assert.Null(await _store.GetStatusAsync(TestData.NewLicenseId(), schedule.ScheduleId, AllRows, CancellationToken.None));
        Assert.NotNull(await _store.GetStatusAsync(_license, schedule.ScheduleId, AllRows, CancellationToken.None));
    }

    [Fact]
    public async Task UnknownScheduleOfAKnownLicenseIsNull()
    {
        await _store.PutAsync(TestData.Success(_license), CancellationToken.None);

        Assert.Null(await _store.GetStatusAsync(_license, TestData.NewScheduleId(), AllRows, CancellationToken.None));
    }

    [Fact]
    public async Task CountersComeFromTheTasksOfTheLicensesUnfinishedSchedules()
    {
        var running = Record(ScheduleStatus.Running, [SubQueryState.Done, SubQueryState.Running, SubQueryState.Queued], license: _license);
        var queued = Record(ScheduleStatus.Queued, [SubQueryState.Queued, SubQueryState.Queued], license: _license);
        var scheduled = Record(ScheduleStatus.Scheduled, [SubQueryState.Queued], license: _license);
        var succeeded = Record(ScheduleStatus.Success, [SubQueryState.Done, SubQueryState.Done], rows: TestData.Rows(2), license: _license);
        var failed = Record(ScheduleStatus.Failure, [SubQueryState.Done], failure: new Failure("X", "Y"), license: _license);
        var otherLicense = Record(ScheduleStatus.Running, [SubQueryState.Running, SubQueryState.Running, SubQueryState.Queued], license: TestData.NewLicenseId());
        foreach (var record in new[] { running, queued, scheduled, succeeded, failed, otherLicense })
        {
            await _store.PutAsync(record, CancellationToken.None);
        }

        var expected = new Dictionary<string, (ScheduleStatus Status, int Ready, int Total)>
        {
            [running.ScheduleId] = (ScheduleStatus.Running, 1, 3),
            [queued.ScheduleId] = (ScheduleStatus.Queued, 0, 2),
            [scheduled.ScheduleId] = (ScheduleStatus.Scheduled, 0, 1),
            [succeeded.ScheduleId] = (ScheduleStatus.Success, 2, 2),
            [failed.ScheduleId] = (ScheduleStatus.Failure, 1, 1),
        };
        foreach (var (id, (status, ready, total)) in expected)
        {
            var snapshot = await ReadAsync(id);
            Assert.Equal(status, snapshot.Status);
            Assert.Equal(ready, snapshot.QueriesReady);
            Assert.Equal(total, snapshot.QueriesTotal);
            // Queue of the license: QUEUED 1 + 2 (a SCHEDULED run's task waits outside the queue until its
            // start time), RUNNING 1; the other license's tasks are not ours.
            Assert.Equal(3, snapshot.TasksScheduled);
            Assert.Equal(1, snapshot.TasksRunning);
        }
    }

    [Fact]
    public async Task CountersFollowTasksAsSchedulesProgress()
    {
        var id = TestData.NewScheduleId();
        var other = Record(ScheduleStatus.Queued, [SubQueryState.Queued], license: _license);
        await _store.PutAsync(other, CancellationToken.None);

        await _store.PutAsync(Record(ScheduleStatus.Running, [SubQueryState.Running, SubQueryState.Queued], scheduleId: id, license: _license), CancellationToken.None);
        var early = await ReadAsync(id);
        await _store.PutAsync(Record(ScheduleStatus.Running, [SubQueryState.Done, SubQueryState.Running], scheduleId: id, license: _license), CancellationToken.None);
        var later = await ReadAsync(id);
        await _store.PutAsync(Record(ScheduleStatus.Success, [SubQueryState.Done, SubQueryState.Done], scheduleId: id, license: _license), CancellationToken.None);
        var done = await ReadAsync(id);

        Assert.Equal((0, 2, 1), (early.QueriesReady, early.TasksScheduled, early.TasksRunning));
        Assert.Equal((1, 1, 1), (later.QueriesReady, later.TasksScheduled, later.TasksRunning));
        // Finished: its tasks leave the queue, the other schedule's stays.
        Assert.Equal((2, 1, 0), (done.QueriesReady, done.TasksScheduled, done.TasksRunning));
    }

    [Fact]
    public async Task SuccessSnapshotPagesItsRowsAndOthersHaveNone()
    {
        var succeeded = TestData.Success(_license, rows: 25);
        var running = TestData.Running(_license);
        await _store.PutAsync(succeeded, CancellationToken.None);
        await _store.PutAsync(running, CancellationToken.None);

        var page = await ReadAsync(succeeded.ScheduleId, new PageWindow(10, null, 10));
        var last = await ReadAsync(succeeded.ScheduleId, new PageWindow(20, null, 10));
        var beyond = await ReadAsync(succeeded.ScheduleId, new PageWindow(40, null, 10));
        var unfinished = await ReadAsync(running.ScheduleId, new PageWindow(5, null, 10));

        Assert.Equal(25, page.TotalRows);
        Assert.Equal(Enumerable.Range(10, 10).Select(i => $"{{\"i\":{i},\"v\":\"row-{i}\"}}"), Rows(page));
        Assert.Equal((20L, 25L), (last.Page.Start, last.Page.End));
        Assert.Equal(5, Rows(last).Length);
        Assert.Equal((40L, 40L), (beyond.Page.Start, beyond.Page.End));
        Assert.Empty(Rows(beyond));
        Assert.Equal(0, unfinished.TotalRows);
        Assert.Equal(0, unfinished.Page.Count);
        Assert.Equal(5, unfinished.Page.Start);
    }

    [Fact]
    public async Task ExpiresAtIsFinishedAtPlusRetentionAndAbsentWhileUnfinished()
    {
        var finishedAt = _time.GetUtcNow() - TimeSpan.FromMinutes(20);
        var withTime = TestData.Success(_license, finishedAt: finishedAt);
        var withoutTime = TestData.Success(_license);
        var running = TestData.Running(_license);
        foreach (var record in new[] { withTime, withoutTime, running })
        {
            await _store.PutAsync(record, CancellationToken.None);
        }

        Assert.Equal(finishedAt + TimeSpan.FromHours(1), (await ReadAsync(withTime.ScheduleId)).ExpiresAt);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromHours(1), (await ReadAsync(withoutTime.ScheduleId)).ExpiresAt);
        Assert.Null((await ReadAsync(running.ScheduleId)).ExpiresAt);
    }

    [Fact]
    public async Task FinishedScheduleIsReadableUntilTheLastTickBeforeRetentionEnds()
    {
        var schedule = TestData.Success(_license);
        await _store.PutAsync(schedule, CancellationToken.None);

        _time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromTicks(1));
        Assert.NotNull(await _store.GetStatusAsync(_license, schedule.ScheduleId, AllRows, CancellationToken.None));

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Null(await _store.GetStatusAsync(_license, schedule.ScheduleId, AllRows, CancellationToken.None));
    }

    [Fact]
    public async Task RemoveExpiredCountsOnlyExpiredSchedulesOfEveryLicense()
    {
        var otherLicense = TestData.NewLicenseId();
        var old = _time.GetUtcNow() - TimeSpan.FromHours(3);
        var expiredMine = TestData.Success(_license, finishedAt: old);
        var expiredFailure = TestData.Failed(_license, finishedAt: old);
        var expiredTheirs = TestData.Success(otherLicense, finishedAt: old);
        var fresh = TestData.Success(_license);
        var running = TestData.Running(_license);
        foreach (var record in new[] { expiredMine, expiredFailure, expiredTheirs, fresh, running })
        {
            await _store.PutAsync(record, CancellationToken.None);
        }

        Assert.Equal(3, await _store.RemoveExpiredAsync(CancellationToken.None));
        Assert.Equal(0, await _store.RemoveExpiredAsync(CancellationToken.None));
        Assert.NotNull(await _store.GetStatusAsync(_license, fresh.ScheduleId, AllRows, CancellationToken.None));
        Assert.NotNull(await _store.GetStatusAsync(_license, running.ScheduleId, AllRows, CancellationToken.None));

        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, await _store.RemoveExpiredAsync(CancellationToken.None));
        Assert.NotNull(await _store.GetStatusAsync(_license, running.ScheduleId, AllRows, CancellationToken.None));
    }

    [Fact]
    public async Task ConfiguredRetentionIsUsedForExpiry()
    {
        var store = new InMemoryScheduleStore(_time, Options.Create(new StoreOptions { Retention = TimeSpan.FromSeconds(30) }));
        var schedule = TestData.Success(_license);
        await store.PutAsync(schedule, CancellationToken.None);

        var snapshot = await store.GetStatusAsync(_license, schedule.ScheduleId, AllRows, CancellationToken.None);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(30), snapshot?.ExpiresAt);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(await store.GetStatusAsync(_license, schedule.ScheduleId, AllRows, CancellationToken.None));
    }

    [Fact]
    public async Task PutKeepsItsOwnCopyOfTheTaskList()
    {
        var tasks = new List<SubQueryState> { SubQueryState.Running, SubQueryState.Queued };
        var schedule = new ScheduleRecord(TestData.NewScheduleId(), _license, ScheduleStatus.Running, tasks, RowBuffer.Empty, null, null);
        await _store.PutAsync(schedule, CancellationToken.None);

        tasks[0] = SubQueryState.Done;
        tasks.Add(SubQueryState.Done);

        var snapshot = await ReadAsync(schedule.ScheduleId);
        Assert.Equal((0, 2, 1, 1), (snapshot.QueriesReady, snapshot.QueriesTotal, snapshot.TasksScheduled, snapshot.TasksRunning));
    }

    [Fact]
    public async Task ConcurrentPutsAndReadsOnOneLicenseAlwaysSeeConsistentSnapshots()
    {
        const int schedules = 4;
        const int versions = 8;
        const int writesPerSchedule = 3_000;
        const int readers = 4;
        const int readsPerReader = 6_000;

        // Even versions RUNNING [DONE, RUNNING, QUEUED, QUEUED]; odd versions SUCCESS with v % 4 + 1 tasks and
        // v % 5 + 1 rows that each name their schedule and version.
        var ids = Enumerable.Range(0, schedules).Select(_ => TestData.NewScheduleId("c")).ToArray();
        ScheduleRecord Version(string id, int v) => v % 2 == 0
            ? new ScheduleRecord(id, _license, ScheduleStatus.Running,
                [SubQueryState.Done, SubQueryState.Running, SubQueryState.Queued, SubQueryState.Queued], RowBuffer.Empty, null, null)
            : new ScheduleRecord(id, _license, ScheduleStatus.Success,
                [.. Enumerable.Repeat(SubQueryState.Done, v % 4 + 1)],
                TestData.Rows(v % 5 + 1, r => $"{{\"id\":\"{id}\",\"v\":{v},\"r\":{r}}}"), null, null);
        var records = ids.ToDictionary(id => id, id => Enumerable.Range(0, versions).Select(v => Version(id, v)).ToArray());
        foreach (var id in ids)
        {
            await _store.PutAsync(records[id][0], CancellationToken.None);
        }

        var writers = ids.Select(id => Task.Run(async () =>
        {
            for (var i = 1; i <= writesPerSchedule; i++)
            {
                await _store.PutAsync(records[id][i % versions], CancellationToken.None);
            }
        }));
        var readings = Enumerable.Range(0, readers).Select(reader => Task.Run(async () =>
        {
            var seen = new HashSet<ScheduleStatus>();
            for (var i = 0; i < readsPerReader; i++)
            {
                var id = ids[(i + reader) % schedules];
                var snapshot = await _store.GetStatusAsync(_license, id, new PageWindow(0, null, 3), CancellationToken.None);
                Assert.NotNull(snapshot);
                AssertConsistent(id, snapshot, schedules);
                seen.Add(snapshot.Status);
            }
            return seen;
        }));

        await Task.WhenAll(writers);
        var seenStatuses = (await Task.WhenAll(readings)).SelectMany(s => s).ToHashSet();

        Assert.Subset(new HashSet<ScheduleStatus> { ScheduleStatus.Running, ScheduleStatus.Success }, seenStatuses);
        foreach (var id in ids)
        {
            // The last write of every writer was version writesPerSchedule % versions.
            var final = await ReadAsync(id);
            Assert.Equal(records[id][writesPerSchedule % versions].Status, final.Status);
            AssertConsistent(id, final, schedules);
        }
    }

    private static void AssertConsistent(string id, StatusSnapshot snapshot, int schedules)
    {
        Assert.Equal(id, snapshot.ScheduleId);
        Assert.InRange(snapshot.TasksRunning, 0, schedules);
        Assert.Equal(2 * snapshot.TasksRunning, snapshot.TasksScheduled);
        Assert.Equal(snapshot.TotalRows > 0 ? Math.Min(3, snapshot.TotalRows) : 0, snapshot.Page.Count);

        if (snapshot.Status == ScheduleStatus.Running)
        {
            Assert.Equal((1, 4, 0L), (snapshot.QueriesReady, snapshot.QueriesTotal, snapshot.TotalRows));
            Assert.True(snapshot.TasksRunning >= 1, "A RUNNING schedule's own task is in its license's queue.");
            Assert.Null(snapshot.ExpiresAt);
            return;
        }

        Assert.Equal(ScheduleStatus.Success, snapshot.Status);
        Assert.NotNull(snapshot.ExpiresAt);
        Assert.Equal(snapshot.QueriesTotal, snapshot.QueriesReady);
        var r = 0;
        int? version = null;
        foreach (var row in snapshot.Page)
        {
            var text = Encoding.UTF8.GetString(row.Span);
            var prefix = $"{{\"id\":\"{id}\",\"v\":";
            Assert.StartsWith(prefix, text, StringComparison.Ordinal);
            var v = int.Parse(text[prefix.Length..text.IndexOf(',', prefix.Length)], System.Globalization.CultureInfo.InvariantCulture);
            version ??= v;
            Assert.Equal(version, v);
            Assert.EndsWith($",\"r\":{r}}}", text, StringComparison.Ordinal);
            r++;
        }
        Assert.NotNull(version);
        // Tasks, row count and rows all come from the same version.
        Assert.Equal(version.Value % 4 + 1, snapshot.QueriesTotal);
        Assert.Equal(version.Value % 5 + 1, snapshot.TotalRows);
    }
}
