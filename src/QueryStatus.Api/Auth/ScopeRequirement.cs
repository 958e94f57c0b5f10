using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;

namespace QueryStatus.Api.Auth;

/// <summary>
/// What every scope policy asks, in one place: an enabled credential that grants the scope and, for client
/// scopes, acts for a license. The framework's policies run it as their requirement, on every endpoint.
/// </summary>
/// <remarks>
/// The requirement is its own handler (the framework's pass-through handler runs each requirement that is one) and
/// answers for itself only, synchronously: <see cref="AuthorizationHandler{TRequirement}"/> would search the policy's
/// requirements for every one of its type, through a LINQ iterator and an async method, on every request.
/// </remarks>
public sealed class ScopeRequirement(string scope) : IAuthorizationRequirement, IAuthorizationHandler
{
    public string Scope { get; } = scope;

    private static bool Permits(ClaimsPrincipal user, string scope) =>
        user.Identity?.IsAuthenticated == true
        && !user.HasClaim(QueryStatusClaims.KeyDisabled, "true")
        && user.HasScope(scope)
        && (scope == Scopes.Worker || user.FindFirst(QueryStatusClaims.LicenseId) is not null);

    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        if (Permits(context.User, Scope))
        {
            context.Succeed(this);
        }
        return Task.CompletedTask;
    }
}
