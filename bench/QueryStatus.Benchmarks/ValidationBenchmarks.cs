using BenchmarkDotNet.Attributes;
using FluentValidation;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Status;

namespace QueryStatus.Benchmarks;

/// <summary>
/// What validating a status poll's parameters costs (the validation filter runs it on every poll): FluentValidation's
/// synchronous and asynchronous entry points on a valid request.
/// </summary>
[MemoryDiagnoser]
public class ValidationBenchmarks
{
    private readonly IValidator _validator = (IValidator)new StatusRequestValidator(Options.Create(new PagingOptions()));
    private readonly StatusRequest _poll = new() { ScheduleId = "bench_running", ApiKey = "bench_0123456789abcdef0123456789abcdef" };
    private readonly StatusRequest _page = new() { ScheduleId = "bench_mid", OffsetStartText = "5000", OffsetEndText = "5100", ApiKey = "bench_0123456789abcdef" };

    [Benchmark(Baseline = true)]
    public bool PollSync() => _validator.Validate(new ValidationContext<object>(_poll)).IsValid;

    [Benchmark]
    public async Task<bool> PollAsync() => (await _validator.ValidateAsync(new ValidationContext<object>(_poll))).IsValid;

    [Benchmark]
    public bool PageSync() => _validator.Validate(new ValidationContext<object>(_page)).IsValid;
}
