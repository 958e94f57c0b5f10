using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace QueryStatus.Api.OpenApi;

/// <summary>A description for each operation group (the endpoints' <c>WithTags</c>), shown above it in Swagger UI.</summary>
public sealed class TagDescriptionFilter : IDocumentFilter
{
    private static readonly Dictionary<string, string> Descriptions = new(StringComparer.Ordinal)
    {
        ["Query status"] = "Poll a query's status and progress; once it succeeded, read its rows page by page (scope query:read).",
        ["Query submission"] = "Submit a query of sub-queries, or stop one (scope query:write).",
        ["Worker protocol"] = "For workers (scope worker): lease tasks, extend leases, send rows, complete or fail tasks.",
    };

    public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
    {
        foreach (var tag in swaggerDoc.Tags ?? Enumerable.Empty<OpenApiTag>())
        {
            if (tag.Description is null && tag.Name is not null && Descriptions.TryGetValue(tag.Name, out var description))
            {
                tag.Description = description;
            }
        }
    }
}
