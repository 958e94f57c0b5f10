using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using QueryStatus.Benchmarks;

// dotnet run -c Release --project bench/QueryStatus.Benchmarks -- [--memory] [BenchmarkDotNet arguments, e.g. --filter '*']
//   --memory   only the memory-per-row table (no timing)
// Without arguments: the memory table, then every benchmark.
//
// In-process toolchain: no generated project to build (quick and robust on a busy 2-CPU machine); a short job
// (3 warm-ups, 10 iterations) keeps a full run to a few minutes.

if (args.Contains("--memory") || args.Length == 0)
{
    Console.WriteLine("Memory the store holds per row (RowBuffer of a finished result):");
    MemoryReport.Run(Console.Out);
    Console.WriteLine();
    if (args.Contains("--memory"))
    {
        return;
    }
}

var config = DefaultConfig.Instance
    .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(10))
    .WithOptions(ConfigOptions.DisableOptimizationsValidator);
var rest = args.Where(a => a != "--memory").ToArray();
BenchmarkSwitcher.FromAssembly(typeof(StorePageBenchmarks).Assembly).Run(rest.Length == 0 ? ["--filter", "*"] : rest, config);
