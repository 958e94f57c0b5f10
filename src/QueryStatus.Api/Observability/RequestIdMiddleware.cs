using System.Security.Cryptography;

namespace QueryStatus.Api.Observability;

/// <summary>
/// Gives each request a 32-character URL-safe ID (<c>meta.request_id</c> and <c>X-Request-Id</c>),
/// puts it on every log event of the request, and sets the headers every response carries. Headers go
/// in OnStarting because the exception handler clears the response before writing the envelope.
/// </summary>
public sealed class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    public const string Header = "X-Request-Id";

    public Task InvokeAsync(HttpContext context)
    {
        var requestId = NewId();
        context.TraceIdentifier = requestId;
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            http.Response.Headers[Header] = http.TraceIdentifier;
            http.Response.Headers.AccessControlAllowOrigin = "*";
            return Task.CompletedTask;
        }, context);

        // The hosting layer opened a scope with its own RequestId before any middleware; ours must win.
        using (logger.BeginScope(new KeyValuePair<string, object>[] { new("RequestId", requestId) }))
        {
            return next(context);
        }
    }

    private const int IdBytes = 24;
    private const int IdsPerRefill = 64;

    // Random bytes drawn from the CSPRNG 64 ids at a time, per thread: one call into the crypto library per
    // 64 requests instead of one per request. Each id's bytes are wiped once used.
    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_next;

    /// <summary>24 random bytes as base64url: 32 characters of A-Z a-z 0-9 - _.</summary>
    public static string NewId()
    {
        var random = t_random;
        if (random is null || t_next == random.Length)
        {
            random = t_random ??= new byte[IdBytes * IdsPerRefill];
            RandomNumberGenerator.Fill(random);
            t_next = 0;
        }
        var bytes = random.AsSpan(t_next, IdBytes);
        t_next += IdBytes;
        var id = System.Buffers.Text.Base64Url.EncodeToString(bytes);
        bytes.Clear();
        return id;
    }
}
