using QueryStatus.Api.Store;
using QueryStatus.Api.Submission;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>The store refuses a submit or stop with a code; the submission API answers it. Pinned word for word, as before codes.</summary>
// No store and no host: it words refusal codes, the same for every provider, so it has no …OnPostgres twin.
public sealed class RunRefusalWordingTests
{
    private const string ScheduleId = "s_abc";

    public static readonly TheoryData<RunRefusal, ScheduleStatus?, int, string> Answers = new()
    {
        { RunRefusal.ScheduleNotFound, null, 404, "No query with schedule_id 's_abc' exists for this license, or its results have expired." },
        { RunRefusal.RunNotFinished, ScheduleStatus.Scheduled, 409, "schedule_id 's_abc' has a run that has not finished (SCHEDULED); stop it or wait for it to finish." },
        { RunRefusal.RunAlreadyFinished, ScheduleStatus.Success, 409, "The run of schedule_id 's_abc' has already finished (SUCCESS)." },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public void EachRefusalHasItsAnswer(RunRefusal refusal, ScheduleStatus? runStatus, int statusCode, string description)
    {
        var error = WriteOutcome.Refused(refusal, runStatus).ToError(ScheduleId);

        Assert.Equal((statusCode, description), (error.StatusCode, error.Description));
    }

    [Fact]
    public void EveryRefusalIsAnswered() =>
        Assert.Equal(Enum.GetValues<RunRefusal>(), Answers.Select(row => (RunRefusal)row[0]).Distinct().Order());
}
