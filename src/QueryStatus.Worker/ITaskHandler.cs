using System.Text.Json;

namespace QueryStatus.Worker;

/// <summary>
/// The one thing a worker's author writes: run one task (a sub-query) and hand its rows to the <see cref="IRowSink"/>.
/// Return normally to complete the task; throw <see cref="TaskFailureException"/> (or <see cref="RetryableTaskException"/>)
/// to fail it. Resolved from a fresh DI scope per task, so it may depend on scoped services.
/// </summary>
public interface ITaskHandler
{
    /// <param name="task">The leased task; <see cref="WorkerTask.Payload"/> is the sub-query exactly as submitted.</param>
    /// <param name="rows">Where rows (and any new sub-queries) go; sent to the service in numbered batches as they fill up.</param>
    /// <param name="cancellationToken">
    /// Cancelled when the task's lease is lost (the query was stopped, or the lease expired and the task went to
    /// another worker) or when the host's shutdown timeout runs out: stop then; nothing more of this task is sent.
    /// </param>
    Task ExecuteAsync(WorkerTask task, IRowSink rows, CancellationToken cancellationToken);
}

/// <summary>A task as the lease call handed it out (the lease token stays with the library).</summary>
/// <param name="TaskId">The task's ID.</param>
/// <param name="ScheduleId">The query (schedule) the task belongs to.</param>
/// <param name="LicenseId">The license that submitted the query.</param>
/// <param name="Payload">The sub-query, any JSON value exactly as the client submitted it (null for a seeded task).</param>
/// <param name="Attempt">1 on the first attempt, 2 on the first retry, ...</param>
/// <param name="LeaseExpiresAt">When the lease ends unless renewed (the library renews it while the handler runs).</param>
public sealed record WorkerTask(
    string TaskId, string ScheduleId, string LicenseId, JsonElement Payload, int Attempt, DateTimeOffset LeaseExpiresAt);
