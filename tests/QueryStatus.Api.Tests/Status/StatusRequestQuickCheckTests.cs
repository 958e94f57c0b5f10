using Microsoft.Extensions.Options;
using QueryStatus.Api.Status;

namespace QueryStatus.Api.Tests.Status;

/// <summary>
/// The status validator's quick check lets polling requests skip the full FluentValidation run; it must agree
/// with the rules on every combination of good and bad values: never accept what they reject, and accept what
/// they accept (or the fast path would be useless).
/// </summary>
public sealed class StatusRequestQuickCheckTests
{
    private static readonly string?[] ScheduleIds = [null, "", " ", "abc", "a-b_C9", new string('x', 50), new string('x', 51), "bad id", "é", "abc\n"];
    private static readonly string?[] Offsets = [null, "", "0", "5", "100", "10000", "10001", "1000000", "1000001", "-1", "+5", "1e3", "5.0", " 5", "abc", "99999999999999999999999"];
    private static readonly string?[] ApiKeys = [null, "", "key_1-A", new string('k', 255), new string('k', 256), "bad key", "k.e.y"];
    private static readonly string?[] Pretty = [null, "", "true", "false", "TRUE", "yes"];

    [Fact]
    public void QuickCheckAgreesWithTheRulesOnEveryCombination()
    {
        var validator = new StatusRequestValidator(Options.Create(new PagingOptions { MaxRows = 10_000 }));
        var checkedCount = 0;
        foreach (var id in ScheduleIds)
        foreach (var start in Offsets)
        foreach (var end in Offsets)
        foreach (var key in ApiKeys)
        foreach (var pretty in Pretty)
        {
            // All combinations of offsets, the others one at a time against a valid rest, keeps this quick.
            var varied = (id == "abc" ? 0 : 1) + (key is null ? 0 : 1) + (pretty is null ? 0 : 1);
            if (varied > 1)
            {
                continue;
            }
            var request = new StatusRequest { ScheduleId = id, OffsetStartText = start, OffsetEndText = end, ApiKey = key, PrettyText = pretty };
            var rules = validator.Validate(request).IsValid;
            var quick = validator.IsClearlyValid(request);
            Assert.True(rules == quick,
                $"rules say {(rules ? "valid" : "invalid")}, quick check {(quick ? "valid" : "invalid")}: " +
                $"schedule_id={id ?? "null"} offset_start={start ?? "null"} offset_end={end ?? "null"} api_key={key ?? "null"} pretty={pretty ?? "null"}");
            checkedCount++;
        }
        Assert.True(checkedCount > 1000);
    }

    [Fact]
    public void QuickCheckFollowsTheConfiguredPageCap()
    {
        var validator = new StatusRequestValidator(Options.Create(new PagingOptions { MaxRows = 100 }));
        Assert.True(validator.IsClearlyValid(new StatusRequest { ScheduleId = "a", OffsetStartText = "0", OffsetEndText = "100" }));
        Assert.False(validator.IsClearlyValid(new StatusRequest { ScheduleId = "a", OffsetStartText = "0", OffsetEndText = "101" }));
        Assert.False(validator.IsClearlyValid("not a status request"));
    }
}
