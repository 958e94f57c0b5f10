namespace QueryStatus.Api.Errors;

/// <summary>
/// Lets a component that sets a failure status without writing a body (an authentication handler,
/// the authorization result handler) say why; the status-code-pages writer picks it up.
/// </summary>
public sealed class ErrorDetail
{
    public required string Description { get; init; }

    public static void Set(HttpContext context, string description) =>
        context.Features.Set(new ErrorDetail { Description = description });

    public static string? Get(HttpContext context) => context.Features.Get<ErrorDetail>()?.Description;
}
