using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace QueryStatus.Api.Pipeline;

/// <summary>
/// For an endpoint that routing runs at once (<c>ShortCircuit()</c>),
/// the three steps the middlewares after routing would run, in their order and with their own services: authenticate
/// with the default scheme (as <c>UseAuthentication</c>), take a permit from the global limiter (as <c>UseRateLimiter</c>),
/// authorize the endpoint's policy and answer 401/403 through the result handler (as <c>UseAuthorization</c>). No
/// decision is made here: schemes, credentials, partitions, limits, rejection answers and policies are the ones the
/// middlewares use, so a scheme, event, policy or limit added later applies to these endpoints too.
/// </summary>
/// <remarks>
/// Why: the status poll is by far the most frequent request, and the three middlewares' own bookkeeping around those
/// steps was about a tenth of its server CPU (bench/RESULTS.md). What does not run for such an endpoint: any middleware
/// placed after <c>UseRouting</c>. Endpoint filters added after this one still run, after it. The endpoint must not
/// carry authorization or CORS metadata (routing refuses to short-circuit those); its policy is named here instead.
/// Arguments are bound before filters run: a handler reads the caller from <c>HttpContext.User</c>, not from a bound
/// <c>ClaimsPrincipal</c> (that would be the anonymous user of before authentication).
/// </remarks>
public static class ShortCircuitPipeline
{
    /// <summary>Short-circuits the endpoint and runs authentication, rate limiting and <paramref name="policy"/> in its first filter.</summary>
    public static RouteHandlerBuilder ShortCircuitWithPolicy(this RouteHandlerBuilder builder, string policy)
    {
        builder.ShortCircuit();
        return builder.AddEndpointFilterFactory((factory, next) =>
        {
            var steps = new Steps(policy, factory.ApplicationServices);
            return invocation => steps.InvokeAsync(invocation, next);
        });
    }

    private sealed class Steps(string policyName, IServiceProvider services)
    {
        private readonly RateLimiterOptions _limits = services.GetRequiredService<IOptions<RateLimiterOptions>>().Value;
        private readonly IAuthorizationMiddlewareResultHandler _authorizationResults = services.GetRequiredService<IAuthorizationMiddlewareResultHandler>();
        private AuthorizationPolicy? _policy;

        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
        {
            var context = invocation.HttpContext;

            // UseAuthentication: the default scheme says who is calling.
            var authentication = await context.AuthenticateAsync();
            if (authentication.Principal is { } principal)
            {
                context.User = principal;
            }

            // UseRateLimiter: after authentication, so that the caller's own partition pays. The permit is held until
            // the response is done, as the middleware holds it.
            using var lease = _limits.GlobalLimiter is { } limiter ? await AcquireAsync(limiter, context) : null;
            if (lease is { IsAcquired: false })
            {
                context.Response.StatusCode = _limits.RejectionStatusCode;
                if (_limits.OnRejected is { } onRejected)
                {
                    await onRejected(new OnRejectedContext { HttpContext = context, Lease = lease }, context.RequestAborted);
                }
                return Results.Empty;
            }

            // UseAuthorization: the policy, evaluated and answered (challenge or forbid) by the framework's services.
            var policy = _policy ??= await services.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync(policyName)
                ?? throw new InvalidOperationException($"No authorization policy named '{policyName}'.");
            var evaluator = context.RequestServices.GetRequiredService<IPolicyEvaluator>();
            var authorization = await evaluator.AuthorizeAsync(policy, authentication, context, context);
            if (!authorization.Succeeded)
            {
                await _authorizationResults.HandleAsync(static _ => Task.CompletedTask, context, policy, authorization);
                return Results.Empty;
            }

            return await next(invocation);
        }

        private static ValueTask<RateLimitLease> AcquireAsync(PartitionedRateLimiter<HttpContext> limiter, HttpContext context)
        {
            var lease = limiter.AttemptAcquire(context);
            if (lease.IsAcquired)
            {
                return ValueTask.FromResult(lease);
            }
            // As the middleware: a limiter with a queue may still grant the permit by waiting.
            lease.Dispose();
            return limiter.AcquireAsync(context, 1, context.RequestAborted);
        }
    }
}
