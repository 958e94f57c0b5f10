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

/// <summary>
/// Something the service depends on cannot serve the request right now: 503 with <see cref="Description"/> (written
/// for the client), while <see cref="Exception.Message"/> and the inner exception (which may name hosts) only reach
/// the log.
/// </summary>
public class UnavailableException(string description, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Description { get; } = description;
}
