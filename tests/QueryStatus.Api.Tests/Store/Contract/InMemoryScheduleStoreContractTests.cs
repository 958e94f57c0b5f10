using Microsoft.Extensions.Options;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store.Contract;

/// <summary>The embedded store against the store contract.</summary>
public sealed class InMemoryScheduleStoreContractTests : ScheduleStoreContract
{
    protected override IScheduleStore CreateStore(StoreFixtureOptions options) => new InMemoryScheduleStore(
        options.Time,
        Options.Create(options.Store),
        Options.Create(options.Scheduler),
        Options.Create(options.Licenses));
}
