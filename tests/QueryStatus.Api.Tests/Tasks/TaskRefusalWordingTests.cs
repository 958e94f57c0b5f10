using QueryStatus.Api.Store;
using QueryStatus.Api.Tasks;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>
/// The store refuses task calls with codes; the worker protocol words them. The sentences are pinned here word for word
/// because workers and their logs have seen them since before the store gave codes.
/// </summary>
// No store and no host: it words refusal codes, the same for every provider, so it has no …OnPostgres twin.
public sealed class TaskRefusalWordingTests
{
    private const string TaskId = "t_abc";

    public static readonly TheoryData<TaskRefusal, ScheduleStatus?, string> Wordings = new()
    {
        { TaskRefusal.TaskNotFound, null, "No task 't_abc' exists, or its query's results have expired." },
        { TaskRefusal.LeaseExpired, null, "The lease expired; the task is waiting to be leased again." },
        { TaskRefusal.UnknownLease, null, "The lease token is stale or unknown: the lease expired and the task was leased again." },
        { TaskRefusal.TaskAlreadyCompleted, null, "The task was already completed; it takes no more calls (a complete repeated with its lease token is answered as a duplicate)." },
        { TaskRefusal.QueryEnded, ScheduleStatus.Stopped, "The query was stopped; this task was abandoned." },
        { TaskRefusal.QueryEnded, ScheduleStatus.Failure, "The query finished (FAILURE); this task was abandoned." },
        { TaskRefusal.ResultTooLarge, null, "The run failed with RESULT_TOO_LARGE: these rows would exceed the row limit." },
    };

    [Theory]
    [MemberData(nameof(Wordings))]
    public void EachRefusalHasItsSentence(TaskRefusal refusal, ScheduleStatus? runStatus, string expected) =>
        Assert.Equal(expected, TasksApi.Describe(TaskOutcome.Refused(refusal, runStatus), TaskId));

    [Fact]
    public void EveryRefusalIsWorded() =>
        Assert.Equal(Enum.GetValues<TaskRefusal>(), Wordings.Select(row => (TaskRefusal)row[0]).Distinct().Order());

    [Fact]
    public void OnlyAnUnknownTaskIsNotFound() =>
        Assert.Equal([TaskRefusal.TaskNotFound],
            Enum.GetValues<TaskRefusal>().Where(r => TaskOutcome.Refused(r).Result == WriteResult.NotFound));

    [Theory]
    [InlineData(TaskState.Queued, "QUEUED")]
    [InlineData(TaskState.Running, "RUNNING")]
    [InlineData(TaskState.Done, "DONE")]
    [InlineData(TaskState.Failed, "FAILED")]
    public void TaskStatesKeepTheirWireNames(TaskState state, string wire) => Assert.Equal(wire, TasksApi.ToWire(state));
}
