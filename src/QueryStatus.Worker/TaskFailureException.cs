namespace QueryStatus.Worker;

/// <summary>
/// Thrown by a handler to fail its task with a <see cref="Code"/> and a message meant for the query's owner (both are
/// sent to the service and shown in the query's <c>meta.failure</c>: put no secrets in them). Not retryable unless
/// <see cref="Retryable"/>; see <see cref="RetryableTaskException"/>. Any other exception fails the task as
/// <c>WORKER_ERROR</c> without its message (which could hold a connection string or a key); the worker logs it.
/// </summary>
public class TaskFailureException : Exception
{
    public const int MaxCodeLength = 100;
    public const int MaxMessageLength = 2000;

    public TaskFailureException(string code, string message, bool retryable = false, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(code);
        ArgumentException.ThrowIfNullOrWhiteSpace(message);
        if (code.Length > MaxCodeLength)
        {
            throw new ArgumentException($"A failure code has at most {MaxCodeLength} characters.", nameof(code));
        }
        Code = code;
        Retryable = retryable;
    }

    /// <summary>A stable code such as <c>DATA_SOURCE_ERROR</c> or <c>INVALID_SUBQUERY</c>.</summary>
    public string Code { get; }

    /// <summary>true: the service retries the task (a new attempt, while attempts remain); false: the query fails.</summary>
    public bool Retryable { get; }
}

/// <summary>
/// A transient failure (a data source timing out, a connection reset): the task is reported with
/// <c>retryable: true</c> and the service runs it again as a new attempt while <c>Scheduler:MaxAttempts</c> allows.
/// </summary>
public class RetryableTaskException : TaskFailureException
{
    public const string DefaultCode = "TRANSIENT_ERROR";

    public RetryableTaskException(string message, Exception? innerException = null)
        : base(DefaultCode, message, retryable: true, innerException)
    {
    }

    public RetryableTaskException(string code, string message, Exception? innerException = null)
        : base(code, message, retryable: true, innerException)
    {
    }
}
