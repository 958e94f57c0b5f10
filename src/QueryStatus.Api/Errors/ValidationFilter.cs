using FluentValidation;

namespace QueryStatus.Api.Errors;

/// <summary>
/// Runs the FluentValidation validator of every argument that has one and answers 400 with the
/// envelope, its description listing each broken rule (each names its parameter).
/// </summary>
public sealed class ValidationFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var services = context.HttpContext.RequestServices;
        foreach (var argument in context.Arguments)
        {
            if (argument is null)
            {
                continue;
            }
            var validatorType = typeof(IValidator<>).MakeGenericType(argument.GetType());
            if (services.GetService(validatorType) is not IValidator validator)
            {
                continue;
            }
            var result = await validator.ValidateAsync(
                new ValidationContext<object>(argument), context.HttpContext.RequestAborted);
            if (!result.IsValid)
            {
                var description = string.Join(" ", result.Errors.Select(e => e.ErrorMessage).Distinct());
                return new ErrorResult(StatusCodes.Status400BadRequest, description);
            }
        }
        return await next(context);
    }
}

public static class ValidationFilterExtensions
{
    public static TBuilder WithValidation<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, ValidationFilter>();
}
