using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Http;
using Serilog.Context;
using Serilog.Events;
using Serilog.Parsing;

namespace QueryStatus.Api.Observability;

/// <summary>
/// Gives each request a 32-character URL-safe ID (<c>meta.request_id</c> and <c>X-Request-Id</c>), puts it on
/// every log event of the request, sets the headers every response carries, and writes the one request log
/// line when the request ends. Headers go in OnStarting because the exception handler clears the response
/// before writing the envelope.
/// </summary>
/// <remarks>
/// The line is built here rather than by Serilog.AspNetCore's request logging: that middleware's ambient
/// diagnostic context, per-request property binding and the hosting layer's scope it rides on were a third of
/// a status poll's server CPU (bench/RESULTS.md). This builds one event from a template parsed once, with the
/// six properties the line shows and nothing else. The query string is left out on purpose: it can carry
/// api_key.
/// </remarks>
public sealed class RequestIdMiddleware(RequestDelegate next, Serilog.ILogger logger, IOptions<RequestLogOptions> options)
{
    public const string Header = ApiHeaders.RequestId;

    public const string MessageTemplateText =
        "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed} ms (request {RequestId}, license {LicenseId})";

    private static readonly MessageTemplate Template = new MessageTemplateParser().Parse(MessageTemplateText);

    private readonly Serilog.ILogger _logger = logger.ForContext<RequestIdMiddleware>();
    private readonly Func<System.Security.Claims.ClaimsPrincipal, string?> _licenseOf = options.Value.LicenseOf;

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var requestId = NewId();
        context.TraceIdentifier = requestId;
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            http.Response.Headers[Header] = http.TraceIdentifier;
            http.Response.Headers.AccessControlAllowOrigin = "*";
            return Task.CompletedTask;
        }, context);

        using (LogContext.PushProperty("RequestId", requestId))
        {
            try
            {
                await next(context);
            }
            finally
            {
                Write(context, requestId, Stopwatch.GetElapsedTime(started));
            }
        }
    }

    private void Write(HttpContext context, string requestId, TimeSpan elapsed)
    {
        var status = context.Response.StatusCode;
        var level = status >= StatusCodes.Status500InternalServerError ? LogEventLevel.Error : LogEventLevel.Information;
        if (!_logger.IsEnabled(level))
        {
            return;
        }
        _logger.Write(RequestLine(DateTimeOffset.Now, level, context.Request.Method, context.Request.Path.Value,
            status, elapsed, requestId, _licenseOf(context.User)));
    }

    /// <summary>The request line's event: the template parsed once and the six properties it shows.</summary>
    public static LogEvent RequestLine(DateTimeOffset timestamp, LogEventLevel level, string method, string? path,
        int status, TimeSpan elapsed, string requestId, string? licenseId)
    {
        // Sized for our six fields plus the one the logger adds (SourceContext; LogContext's RequestId is already here):
        // no regrowth, and no room nothing fills.
        var properties = new Dictionary<string, LogEventPropertyValue>(capacity: 7)
        {
            ["RequestMethod"] = string.Equals(method, HttpMethods.Get, StringComparison.Ordinal) ? GetValue : new ScalarValue(method),
            ["RequestPath"] = PathValue(path),
            ["StatusCode"] = StatusValue(status),
            // Rounded here rather than by a format in the template: a formatted token is rendered a second time (CLEF's @r).
            ["Elapsed"] = new ScalarValue(Math.Round(elapsed.TotalMilliseconds, 4)),
            ["RequestId"] = new ScalarValue(requestId),
            ["LicenseId"] = licenseId is null ? NoLicenseValue : new ScalarValue(licenseId),
        };
        return LogEvent.UnstableAssembleFromParts(timestamp, level, exception: null, Template, properties, default, default);
    }

    // The values nearly every line repeats (a status poll), made once.
    private static readonly ScalarValue GetValue = new(HttpMethods.Get);
    private static readonly ScalarValue NoLicenseValue = new("-");

    private static readonly ScalarValue[] StatusValues =
        [.. Enumerable.Range(0, 600).Select(code => new ScalarValue(code))];

    // Clients poll the same path over and over: each thread keeps the value of the last path it logged.
    [ThreadStatic]
    private static ScalarValue? t_lastPath;

    private static ScalarValue PathValue(string? path)
    {
        var last = t_lastPath;
        if (last is not null && string.Equals((string?)last.Value, path, StringComparison.Ordinal))
        {
            return last;
        }
        return t_lastPath = new ScalarValue(path);
    }

    private static ScalarValue StatusValue(int status) =>
        (uint)status < (uint)StatusValues.Length ? StatusValues[status] : new ScalarValue(status);

    private const int IdBytes = 24;
    private const int IdsPerRefill = 512;

    // Random bytes drawn from the CSPRNG 512 ids at a time, per thread (12 KiB): one call into the crypto library per
    // 512 requests instead of one per request. A call costs about 2.3 µs whatever its size up to here, so per id:
    // 36-42 ns drawing 64 at a time, 7.7-7.9 ns drawing 512 (three runs each, 2026-12-05). Each id's bytes are wiped
    // once used.
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

/// <summary>What the request line needs to know from outside the logging itself.</summary>
public sealed class RequestLogOptions
{
    /// <summary>The caller's license as the line shows it (null: "-"); authentication sets it up.</summary>
    public Func<System.Security.Claims.ClaimsPrincipal, string?> LicenseOf { get; set; } = _ => null;
}
