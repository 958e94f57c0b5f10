namespace QueryStatus.Api.Errors;

/// <summary>The stable error codes and default messages of the envelope, by HTTP status.</summary>
public static class ErrorCodes
{
    public const string BadRequest = "BAD_REQUEST";
    public const string Unauthorized = "UNAUTHORIZED";
    public const string Forbidden = "FORBIDDEN";
    public const string NotFound = "NOT_FOUND";
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    public const string Conflict = "CONFLICT_ERROR";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";
    public const string TooManyRequests = "TOO_MANY_REQUESTS";
    public const string InternalServerError = "INTERNAL_SERVER_ERROR";
    public const string ServiceUnavailable = "SERVICE_UNAVAILABLE";

    public static (string Code, string Message) ForStatus(int status) => status switch
    {
        400 => (BadRequest, "The request was invalid."),
        401 => (Unauthorized, "Authentication is required."),
        403 => (Forbidden, "You are not allowed to perform this request."),
        404 => (NotFound, "The requested resource was not found."),
        405 => (MethodNotAllowed, "The HTTP method is not allowed for this resource."),
        409 => (Conflict, "The request conflicts with the current state of the resource."),
        413 => (PayloadTooLarge, "The request body is too large."),
        415 => (UnsupportedMediaType, "The request content type is not supported."),
        429 => (TooManyRequests, "Rate limit exceeded. Retry later."),
        503 => (ServiceUnavailable, "The service is temporarily unavailable."),
        >= 500 => (InternalServerError, "An unexpected error occurred."),
        _ => (BadRequest, "The request was invalid."),
    };
}
