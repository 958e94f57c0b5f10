using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace QueryStatus.Api.OpenApi;

/// <summary>
/// The service runs at different base URLs, so the document names no host: its one server is relative, and
/// Swagger UI's "Try it out" (like any client that resolves it against the document's URL) calls the host the
/// document was loaded from. With a path base (<c>UsePathBase</c>, or a forwarded prefix) Swashbuckle has already
/// put that path in <c>servers</c>; it is kept. Without one the server is <c>/</c>.
/// </summary>
public sealed class ServerDocumentFilter : IDocumentFilter
{
    public const string Description = "This service, at the address this document was loaded from.";

    public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
    {
        swaggerDoc.Servers ??= [];
        if (swaggerDoc.Servers.Count == 0)
        {
            swaggerDoc.Servers.Add(new OpenApiServer { Url = "/" });
        }
        foreach (var server in swaggerDoc.Servers)
        {
            server.Description ??= Description;
        }
    }
}
