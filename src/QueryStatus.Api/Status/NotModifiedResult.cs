namespace QueryStatus.Api.Status;

/// <summary><c>304 Not Modified</c>: the client's copy (its <c>If-None-Match</c>) is current; no body, its ETag again.</summary>
public sealed class NotModifiedResult(string etag) : IResult, IStatusCodeHttpResult
{
    public string ETag { get; } = etag;
    int? IStatusCodeHttpResult.StatusCode => StatusCodes.Status304NotModified;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status304NotModified;
        httpContext.Response.Headers.ETag = ETag;
        return Task.CompletedTask;
    }
}
