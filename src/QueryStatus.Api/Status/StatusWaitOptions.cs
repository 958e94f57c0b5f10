using System.ComponentModel.DataAnnotations;

namespace QueryStatus.Api.Status;

public sealed class StatusWaitOptions
{
    public const string Section = "Status";

    /// <summary>
    /// Most status requests of this instance waiting at once (<c>wait_seconds</c>); past it a request answers at once,
    /// as if it had asked for no wait. A waiter holds no thread, only its connection and a few hundred bytes.
    /// </summary>
    [Range(0, 1_000_000, ErrorMessage = "Status:MaxWaiters must be between 0 and 1000000.")]
    public int MaxWaiters { get; set; } = 10_000;
}
