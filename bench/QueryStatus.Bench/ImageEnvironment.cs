using System.Text.RegularExpressions;

namespace QueryStatus.Bench;

/// <summary>
/// The runtime settings the service's image sets in its environment: the Dockerfile's <c>ENV DOTNET_…=…</c> lines (one
/// variable per line). Every server the bench starts gets them, the baseline as much as QueryStatus, so that the service
/// runs as it is deployed and the baseline under the same runtime, as with <c>RuntimeSettings.props</c>: the ratios then
/// measure the code. A setting the runtime reads only from the environment (the GC's gen0 budget) can live nowhere else.
/// </summary>
public static partial class ImageEnvironment
{
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Variables = new(() => Read(Bench.RepoRoot()));

    public static IReadOnlyDictionary<string, string> Values => Variables.Value;

    /// <summary>For the run's header: NAME=VALUE, comma-separated, or "none".</summary>
    public static string Describe() =>
        Values.Count == 0 ? "none" : string.Join(", ", Values.Select(v => $"{v.Key}={v.Value}"));

    public static IReadOnlyDictionary<string, string> Read(string repoRoot)
    {
        var dockerfile = Path.Combine(repoRoot, "Dockerfile");
        return File.ReadLines(dockerfile)
            .Select(line => DotnetEnv().Match(line))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value, StringComparer.Ordinal);
    }

    [GeneratedRegex(@"^ENV\s+(?<name>DOTNET_\w+)=(?<value>\S+)\s*$")]
    private static partial Regex DotnetEnv();
}
