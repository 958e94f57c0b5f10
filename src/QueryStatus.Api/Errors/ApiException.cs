namespace QueryStatus.Api.Errors;

/// <summary>
/// A failure whose status, code and description are meant for the client. Thrown where a failure is
/// found outside a handler's return path (parameter binding, authentication) and turned into the
/// envelope by <see cref="EnvelopeExceptionHandler"/>.
/// </summary>
public sealed class ApiException(int statusCode, string description) : Exception(description)
{
    public int StatusCode { get; } = statusCode;
    public string Description { get; } = description;

    public static ApiException BadRequest(string description) => new(StatusCodes.Status400BadRequest, description);
}
