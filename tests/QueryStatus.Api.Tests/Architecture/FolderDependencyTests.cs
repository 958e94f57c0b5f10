using NetArchTest.Rules;

namespace QueryStatus.Api.Tests.Architecture;

/// <summary>
/// The service's folders (one namespace each) depend on each other one way: the cross-cutting ones know no feature, and
/// no two folders reach each other through any chain. Read from the compiled code (NetArchTest reads every type's
/// signatures and method bodies), so a fully qualified name or a `using` alike counts; a constant is copied into the
/// code that reads it, so reading another folder's constant is not seen.
/// </summary>
public sealed class FolderDependencyTests
{
    private const string Root = "QueryStatus.Api.";

    /// <summary>Folders every feature may use and that use no feature themselves.</summary>
    public static readonly string[] CrossCutting = ["Cors", "Errors", "Hosting", "Http", "Observability", "OpenApi", "Pipeline", "Validation"];

    public static readonly string[] Features = ["Auth", "Health", "Parameters", "RateLimiting", "Status", "Store", "Submission", "Tasks"];

    private static Types ServiceTypes => Types.InAssembly(typeof(Program).Assembly);

    public static TheoryData<string> CrossCuttingFolders => [.. CrossCutting];

    [Fact]
    public void EveryFolderOfTheServiceIsClassified()
    {
        var folders = typeof(Program).Assembly.GetTypes()
            .Select(t => t.Namespace)
            .Where(ns => ns is not null && ns.StartsWith(Root, StringComparison.Ordinal))
            .Select(ns => ns![Root.Length..].Split('.')[0])
            .Distinct()
            .Order(StringComparer.Ordinal);

        Assert.Equal(CrossCutting.Concat(Features).Order(StringComparer.Ordinal), folders);
    }

    [Theory]
    [MemberData(nameof(CrossCuttingFolders))]
    public void CrossCuttingFolderKnowsNoFeature(string folder)
    {
        var result = ServiceTypes.That().ResideInNamespace(Root + folder)
            .ShouldNot().HaveDependencyOnAny([.. Features.Select(f => Root + f)])
            .GetResult();

        Assert.True(result.IsSuccessful,
            $"{folder} uses a feature folder in: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void NoTwoFoldersDependOnEachOtherThroughAnyChain()
    {
        var folders = CrossCutting.Concat(Features).ToArray();
        var uses = folders.ToDictionary(f => f, f => folders
            .Where(other => other != f && ServiceTypes.That().ResideInNamespace(Root + f).And().HaveDependencyOn(Root + other).GetTypes().Any())
            .ToList());

        var cycle = FindCycle(uses);

        Assert.True(cycle is null, $"Folders depend on each other in a circle: {string.Join(" -> ", cycle ?? [])}");
    }

    [Fact]
    public void TheCycleFinderFindsACircle() =>
        Assert.Equal(["A", "B", "C", "A"], FindCycle(new Dictionary<string, List<string>> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A"] }));

    private static List<string>? FindCycle(Dictionary<string, List<string>> uses)
    {
        var state = uses.Keys.ToDictionary(k => k, _ => 0); // 0 unseen, 1 on the path, 2 done
        var path = new List<string>();

        List<string>? Visit(string folder)
        {
            state[folder] = 1;
            path.Add(folder);
            foreach (var next in uses[folder])
            {
                if (state[next] == 1)
                {
                    return [.. path.Skip(path.IndexOf(next)), next];
                }
                if (state[next] == 0 && Visit(next) is { } found)
                {
                    return found;
                }
            }
            path.RemoveAt(path.Count - 1);
            state[folder] = 2;
            return null;
        }

        return uses.Keys.Order(StringComparer.Ordinal).Where(f => state[f] == 0).Select(Visit).FirstOrDefault(c => c is not null);
    }
}
