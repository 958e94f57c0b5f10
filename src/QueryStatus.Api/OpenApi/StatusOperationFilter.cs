using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace QueryStatus.Api.OpenApi;

/// <summary>
/// The status endpoint binds its parameters itself (plain or inside <c>json</c>), so the explorer
/// cannot see them; this filter documents them.
/// </summary>
public sealed class StatusOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId != "GetQueryStatus")
        {
            return;
        }
        operation.Parameters ??= [];
        operation.Parameters.Clear();
        operation.Parameters.Add(Query("schedule_id", "Schedule ID for the query (1–50 characters of A-Z a-z 0-9 _ -). Required, here or in json.", JsonSchemaType.String, "demo_done"));
        operation.Parameters.Add(Query("offset_start", "Starting row index for paginated response (0–1,000,000; default 0).", JsonSchemaType.Integer, "0"));
        operation.Parameters.Add(Query("offset_end", "Ending row index for paginated response, exclusive (0–1,000,000; default: offset_start + the page cap).", JsonSchemaType.Integer, "100"));
        operation.Parameters.Add(Query("json", "JSON-encoded query status parameters, e.g. {\"schedule_id\":\"demo_done\",\"offset_end\":100}.", JsonSchemaType.String, null));
        operation.Parameters.Add(Query("pretty", "true for indented JSON.", JsonSchemaType.Boolean, null));
    }

    private static OpenApiParameter Query(string name, string description, JsonSchemaType type, string? example) => new()
    {
        Name = name,
        In = ParameterLocation.Query,
        Description = description,
        Required = false,
        Schema = new OpenApiSchema { Type = type },
        Example = example is null ? null : System.Text.Json.Nodes.JsonValue.Create(example),
    };
}
