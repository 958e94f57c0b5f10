using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;

namespace QueryStatus.Api.Auth;

/// <summary>
/// What every scope policy asks, in one place: an enabled credential that grants the scope and, for client
/// scopes, acts for a license. The framework's policies run it as their requirement, on every endpoint.
/// </summary>
public sealed class ScopeRequirement(string scope) : AuthorizationHandler<ScopeRequirement>, IAuthorizationRequirement
{
    public string Scope { get; } = scope;

    private static bool Permits(ClaimsPrincipal user, string scope) =>
        user.Identity?.IsAuthenticated == true
        && !user.HasClaim(QueryStatusClaims.KeyDisabled, "true")
        && user.HasScope(scope)
        && (scope == Scopes.Worker || user.FindFirst(QueryStatusClaims.LicenseId) is not null);

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (Permits(context.User, requirement.Scope))
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}
