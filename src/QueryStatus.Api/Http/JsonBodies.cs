using Microsoft.Net.Http.Headers;
using QueryStatus.Api.Errors;

namespace QueryStatus.Api.Http;

/// <summary>What every JSON request body must be, whichever endpoint reads it.</summary>
public static class JsonBodies
{
    /// <summary>
    /// A key given twice in one JSON object is refused (400) rather than settled by the last one, as the status
    /// endpoint refuses a parameter given twice: which schedule, worker or lease a request means is not ours to guess.
    /// Rows are the exception: their converter keeps each as sent (README, the CLI's csv).
    /// </summary>
    public static IServiceCollection AddStrictJsonBodies(this IServiceCollection services) =>
        services.ConfigureHttpJsonOptions(options => options.SerializerOptions.AllowDuplicateProperties = false);

    /// <summary>
    /// JSON request bodies are UTF-8 (RFC 8259: JSON exchanged between systems must be). A JSON body that names another
    /// charset is refused with 415 before anything reads it; one that names UTF-8 (<c>charset=utf-8</c>, in any case,
    /// quoted or not) is read as if it named none.
    /// </summary>
    /// <remarks>
    /// Left to the framework's JSON reader, a charset the runtime does not know (<c>charset=bogus</c>) or a quoted one
    /// (<c>charset="utf-8"</c>, which HTTP defines as the same value) threw an exception that answered 500, and a
    /// body declared UTF-16 but sent as UTF-8 was read as nonsense (400).
    /// </remarks>
    public static IApplicationBuilder UseUtf8JsonBodies(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var contentType = context.Request.ContentType;
            // Only a Content-Type with parameters can name a charset: most requests have none at all.
            if (contentType is null || !contentType.Contains(';'))
            {
                return next(context);
            }
            if (context.Request.HasJsonContentType()
                && MediaTypeHeaderValue.TryParse(contentType, out var media)
                && media.Charset.HasValue)
            {
                if (!IsUtf8(HeaderUtilities.RemoveQuotes(media.Charset)))
                {
                    throw new ApiException(StatusCodes.Status415UnsupportedMediaType,
                        "Send the request body as application/json in UTF-8 (charset=utf-8, or no charset).");
                }
                media.Charset = null;
                context.Request.ContentType = media.ToString();
            }
            return next(context);
        });

    private static bool IsUtf8(Microsoft.Extensions.Primitives.StringSegment charset) =>
        charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
}
