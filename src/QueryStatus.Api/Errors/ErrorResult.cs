namespace QueryStatus.Api.Errors;

/// <summary>An <see cref="IResult"/> that answers with the error envelope, for handlers and filters.</summary>
public sealed class ErrorResult(int statusCode, string? description = null, string? code = null, string? message = null)
    : IResult, IStatusCodeHttpResult
{
    public int StatusCode { get; } = statusCode;
    int? IStatusCodeHttpResult.StatusCode => StatusCode;
    public string? Description { get; } = description;

    public Task ExecuteAsync(HttpContext httpContext) =>
        ErrorEnvelope.WriteAsync(httpContext, StatusCode, Description, code, message);
}
