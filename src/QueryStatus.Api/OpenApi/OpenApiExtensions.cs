using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace QueryStatus.Api.OpenApi;

public static class OpenApiExtensions
{
    public const string BearerScheme = "Bearer";
    public const string ApiKeyScheme = "ApiKey";

    public static IServiceCollection AddQueryStatusOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v2", new OpenApiInfo
            {
                Title = "QueryStatus — Enterprise API v2 query status",
                Version = "v2",
                Description = "Status, progress and paged results of asynchronous queries. Wire-compatible with the " +
                              "Supermetrics Enterprise API v2 status endpoint. Every error answers with the envelope " +
                              "{meta:{request_id}, error:{code, message, description}}.",
            });
            o.AddSecurityDefinition(BearerScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "A JWT with a license_id claim, or an API key: `Authorization: Bearer <token>`.",
            });
            o.AddSecurityDefinition(ApiKeyScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Query,
                Name = "api_key",
                Description = "API key when not using an authorization header.",
            });
            // One requirement per scheme: either one authenticates.
            o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, doc)] = [] });
            o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, doc)] = [] });
            o.OperationFilter<StatusOperationFilter>();
            o.DocumentFilter<ServerDocumentFilter>();
            o.DocumentFilter<TagDescriptionFilter>();
        });

        // Types written by a JsonConverter of their own are documented as any JSON value, not by their members
        // (Swashbuckle's resolver, which AddSwaggerGen registered, handles every other type).
        var swashbuckle = services.Single(d => d.ServiceType == typeof(ISerializerDataContractResolver));
        services.Replace(ServiceDescriptor.Singleton<ISerializerDataContractResolver>(s => new OwnConverterDataContractResolver(
            (ISerializerDataContractResolver)(swashbuckle.ImplementationFactory?.Invoke(s)
                ?? swashbuckle.ImplementationInstance
                ?? ActivatorUtilities.CreateInstance(s, swashbuckle.ImplementationType!)))));
        return services;
    }

    /// <summary>
    /// The document and the UI, both under <c>/swagger</c>. Only requests there enter their middleware: for any
    /// other path they only match templates and allocate, a cost every API request paid for nothing.
    /// </summary>
    public static IApplicationBuilder UseQueryStatusOpenApi(this IApplicationBuilder app) =>
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/swagger"), swagger =>
        {
            swagger.UseSwagger();
            swagger.UseSwaggerUI(o =>
            {
                o.SwaggerEndpoint("/swagger/v2/swagger.json", "QueryStatus v2");
                o.DocumentTitle = "QueryStatus API";
            });
        });
}
