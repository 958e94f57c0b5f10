namespace QueryStatus.Api.Tests.Infrastructure;

public sealed record TestKey(string Key, string LicenseId, string Name, bool Disabled = false, string[]? Scopes = null);

/// <summary>The API keys every <see cref="QueryStatusFactory"/> is configured with (stored hashed).</summary>
public static class TestKeys
{
    public static readonly TestKey Primary = new("qs_test_primary_key_0001", "lic_test", "primary");
    public static readonly TestKey Other = new("qs_test_other_key_0002", "lic_other", "other license");
    public static readonly TestKey Disabled = new("qs_test_disabled_key_0003", "lic_test", "disabled", Disabled: true);

    /// <summary>A worker: serves every license, so it has no license of its own (empty: none configured).</summary>
    public static readonly TestKey Worker = new("qs_test_worker_key_0004", "", "worker", Scopes: ["worker"]);

    /// <summary>A second worker credential, for what is counted per credential.</summary>
    public static readonly TestKey OtherWorker = new("qs_test_worker_key_0006", "", "other worker", Scopes: ["worker"]);

    /// <summary>May read statuses of lic_test but not submit or stop.</summary>
    public static readonly TestKey ReadOnly = new("qs_test_readonly_key_0005", "lic_test", "read only", Scopes: ["query:read"]);

    public static readonly IReadOnlyList<TestKey> All = [Primary, Other, Disabled, Worker, ReadOnly, OtherWorker];
}
