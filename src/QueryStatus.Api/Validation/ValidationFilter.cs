using FluentValidation;
using QueryStatus.Api.Errors;

namespace QueryStatus.Api.Validation;

/// <summary>
/// Runs the FluentValidation validator of every argument that has one and answers 400 with the
/// envelope, its description listing each broken rule (each names its parameter).
/// </summary>
/// <remarks>
/// Which parameters have a validator is worked out once per endpoint, when its filter pipeline is built
/// (<see cref="ValidationFilterExtensions.WithValidation{TBuilder}"/>), not per request: looking validators
/// up by reflection for every argument of every request was a measurable share of the status endpoint's cost.
/// </remarks>
public sealed class ValidationFilter
{
    private readonly (int Index, Func<object, FluentValidation.Results.ValidationResult> Validate)[] _validators;

    private ValidationFilter((int Index, Func<object, FluentValidation.Results.ValidationResult> Validate)[] validators) => _validators = validators;

    /// <summary>The filter for a handler, or null when none of its parameters has a validator.</summary>
    public static ValidationFilter? For(EndpointFilterFactoryContext context)
    {
        var services = context.ApplicationServices;
        var validators = context.MethodInfo.GetParameters()
            .Select((parameter, index) => (Index: index, Type: parameter.ParameterType))
            .Where(p => !p.Type.IsByRef && !p.Type.IsPointer && !p.Type.ContainsGenericParameters)
            .Select(p => (p.Index, p.Type, Validator: services.GetService(typeof(IValidator<>).MakeGenericType(p.Type))))
            .Where(p => p.Validator is not null)
            .Select(p => (p.Index, Typed(p.Type, p.Validator!)))
            .ToArray();
        return validators.Length == 0 ? null : new ValidationFilter(validators);
    }

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        foreach (var (index, validator) in _validators)
        {
            var argument = context.Arguments[index];
            if (argument is null)
            {
                continue;
            }
            var result = validator(argument);
            if (!result.IsValid)
            {
                var description = string.Join(" ", result.Errors.Select(e => e.ErrorMessage).Distinct());
                return ValueTask.FromResult<object?>(new ErrorResult(StatusCodes.Status400BadRequest, description));
            }
        }
        return next(context);
    }

    /// <summary>
    /// The validator called through its typed entry point: one validation context per call, where the untyped
    /// <see cref="IValidator.Validate(IValidationContext)"/> makes a second, typed one from the first. Synchronously: our
    /// validators have no asynchronous rules (FluentValidation throws if one ever does), and the synchronous run costs
    /// a fifth less on every request.
    /// </summary>
    private static Func<object, FluentValidation.Results.ValidationResult> Typed(Type type, object validator) =>
        (Func<object, FluentValidation.Results.ValidationResult>)typeof(ValidationFilter)
            .GetMethod(nameof(TypedFor), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(type)
            .Invoke(null, [validator])!;

    private static Func<object, FluentValidation.Results.ValidationResult> TypedFor<T>(IValidator<T> validator) =>
        argument => validator.Validate((T)argument);
}

public static class ValidationFilterExtensions
{
    public static TBuilder WithValidation<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((context, next) =>
            ValidationFilter.For(context) is { } filter ? invocation => filter.InvokeAsync(invocation, next) : next);
}
