using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace QueryStatus.Client;

public static class QueryStatusClientExtensions
{
    /// <summary>
    /// Registers <see cref="QueryStatusClient"/> as a typed <see cref="HttpClient"/>: base address and credential from
    /// <paramref name="configure"/>, and the standard resilience handler, which retries a 429 or 503 after the
    /// server's <c>Retry-After</c> (at most <see cref="QueryStatusClientOptions.MaxRetries"/> times), and times out
    /// an attempt only well after the longest long-poll.
    /// </summary>
    public static IHttpClientBuilder AddQueryStatusClient(this IServiceCollection services, Action<QueryStatusClientOptions> configure)
    {
        services.AddOptions<QueryStatusClientOptions>().Configure(configure).ValidateDataAnnotations()
            .Validate(o => o.ApiKey is not null || o.TokenProvider is not null,
                "QueryStatusClientOptions needs an ApiKey or a TokenProvider.")
            .ValidateOnStart();
        services.AddTransient<CredentialHandler>();
        services.TryAddSingleton(TimeProvider.System);
        var builder = services.AddHttpClient<QueryStatusClient>((sp, http) =>
                http.BaseAddress = WithTrailingSlash(sp.GetRequiredService<IOptions<QueryStatusClientOptions>>().Value.BaseAddress))
            .AddHttpMessageHandler<CredentialHandler>()
            // The factory's default HTTP logging hands header values, the credential included, unredacted to structured
            // sinks at Trace level (as the worker library found): the credential must never reach a log, so it is off.
            .RemoveAllLoggers();
        builder.AddStandardResilienceHandler().Configure((resilience, sp) =>
        {
            var options = sp.GetRequiredService<IOptions<QueryStatusClientOptions>>().Value;
            resilience.Retry.MaxRetryAttempts = Math.Max(1, options.MaxRetries);
            resilience.Retry.ShouldRetryAfterHeader = true;
            // 429 and 503 mean "not done, come back": safe to send again whatever the method. Other failures
            // (a 500, a dropped connection) may have done the write, so only reads are repeated after them.
            resilience.Retry.ShouldHandle = args =>
                ValueTask.FromResult(options.MaxRetries > 0 && ShouldRetry(args.Outcome, args.Context.GetRequestMessage()));
            // A long-poll holds a request up to 30 s: an attempt may take that long and then some.
            resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(60);
            resilience.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(120);
            resilience.TotalRequestTimeout.Timeout = TimeSpan.FromMinutes(5);
        });
        return builder;
    }

    /// <summary>
    /// The client's paths are relative (<c>enterprise/v2/...</c>): against <c>https://gateway/querystatus</c> they would
    /// resolve to <c>https://gateway/enterprise/...</c>, dropping the last segment. A base ending in <c>/</c> keeps it.
    /// </summary>
    private static Uri? WithTrailingSlash(Uri? baseAddress) =>
        baseAddress is null || baseAddress.AbsolutePath.EndsWith('/')
            ? baseAddress
            : new UriBuilder(baseAddress) { Path = baseAddress.AbsolutePath + "/" }.Uri;

    private static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request) => outcome switch
    {
        { Result.StatusCode: HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable } => true,
        _ when request?.Method != HttpMethod.Get => false,
        { Result.StatusCode: HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout } => true,
        { Exception: HttpRequestException or Polly.Timeout.TimeoutRejectedException } => true,
        _ => false,
    };

    /// <summary>Adds the credential to every request: the API key, or a token from the provider.</summary>
    internal sealed class CredentialHandler(IOptions<QueryStatusClientOptions> options) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var o = options.Value;
            var token = o.ApiKey ?? await o.TokenProvider!(cancellationToken);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
