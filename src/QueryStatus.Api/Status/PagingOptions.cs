using System.ComponentModel.DataAnnotations;

namespace QueryStatus.Api.Status;

public sealed class PagingOptions
{
    public const string Section = "Paging";

    /// <summary>The most rows one response carries (the page cap).</summary>
    [Range(1, 1_000_000, ErrorMessage = "Paging:MaxRows must be between 1 and 1000000.")]
    public int MaxRows { get; set; } = 10_000;
}
