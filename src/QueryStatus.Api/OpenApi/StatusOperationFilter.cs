using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace QueryStatus.Api.OpenApi;

/// <summary>
/// The status endpoint binds its parameters itself (plain or inside <c>json</c>), so the explorer
/// cannot see them; this filter documents them (and stop's), and gives each status response an example.
/// </summary>
public sealed class StatusOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId == "StopQuery")
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(Query("schedule_id", "Schedule ID of the query to stop (or give it inside json, or in a JSON body).", JsonSchemaType.String, JsonValue.Create("demo_running")));
            operation.Parameters.Add(Query("json", "JSON-encoded parameters, e.g. {\"schedule_id\":\"demo_running\"}.", JsonSchemaType.String, null));
            return;
        }
        if (operation.OperationId != "GetQueryStatus")
        {
            return;
        }
        operation.Parameters ??= [];
        operation.Parameters.Clear();
        operation.Parameters.Add(Query("schedule_id", "Schedule ID for the query (1–50 characters of A-Z a-z 0-9 _ -). Required, here or in json.", JsonSchemaType.String, JsonValue.Create("demo_done")));
        operation.Parameters.Add(Query("offset_start", "Starting row index for paginated response (0–1,000,000; default 0).", JsonSchemaType.Integer, JsonValue.Create(0)));
        operation.Parameters.Add(Query("offset_end", "Ending row index for paginated response, exclusive (0–1,000,000; default: offset_start + the page cap).", JsonSchemaType.Integer, JsonValue.Create(100)));
        operation.Parameters.Add(Query("json", "JSON-encoded query status parameters, e.g. {\"schedule_id\":\"demo_done\",\"offset_end\":100}.", JsonSchemaType.String, null));
        operation.Parameters.Add(Query("pretty", "true for indented JSON.", JsonSchemaType.Boolean, null));
        operation.Parameters.Add(Query("wait_seconds",
            "Long-poll (not in the original API): wait up to this many seconds (0–30; default 0) for the query to change " +
            "from the If-None-Match ETag (then 200 with the new state, or 304 when the time passes), or without If-None-Match " +
            "for the query to finish (SUCCESS, FAILURE or STOPPED), then answer as usual.", JsonSchemaType.Integer, null));
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "If-None-Match",
            In = ParameterLocation.Header,
            Description = "The ETag of an earlier answer (not in the original API): 304 Not Modified, no body, while the query's state is unchanged.",
            Required = false,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });

        foreach (var (status, example) in Examples)
        {
            if (operation.Responses?.TryGetValue(status, out var response) == true
                && response.Content?.TryGetValue("application/json", out var content) == true
                && content is OpenApiMediaType media)
            {
                media.Example = JsonNode.Parse(example);
            }
        }
    }

    private static string Error(string code, string message, string description) =>
        new JsonObject
        {
            ["meta"] = new JsonObject { ["request_id"] = "BXaEFVtjc7TXaJxgZhmFgSUD9edqq_CN" },
            ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["description"] = description },
        }.ToJsonString();

    private static readonly (string Status, string Example)[] Examples =
    [
        ("200", """
            {"meta":{"request_id":"BXaEFVtjc7TXaJxgZhmFgSUD9edqq_CN","schedule_id":"demo_done","status_code":"SUCCESS",
             "progress":{"queries_ready":3,"queries_total":3},"workflow":{"tasks_scheduled":0,"tasks_running":1},
             "paging":{"offset_start":0,"offset_end":2,"total_rows":250,"next_offset_start":2},
             "expires_at":"2026-11-29T11:00:00Z"},
             "data":[{"date":"2026-11-01","campaign":"Campaign 0","impressions":1000,"clicks":12},
                     {"date":"2026-11-02","campaign":"Campaign 1","impressions":1013,"clicks":13}]}
            """),
        ("400", Error("BAD_REQUEST", "The request was invalid.", "offset_end: must not be less than offset_start (offset_end is exclusive).")),
        ("401", Error("UNAUTHORIZED", "Authentication is required.", "The API key is not valid.")),
        ("403", Error("FORBIDDEN", "You are not allowed to perform this request.", "This API key is disabled.")),
        ("404", Error("NOT_FOUND", "Query status not found.", "No query with schedule_id 'abc' exists for this license, or its results have expired.")),
        ("429", Error("TOO_MANY_REQUESTS", "Rate limit exceeded. Retry later.", "At most 600 requests per 00:01:00 are allowed; retry in 42 s.")),
        ("500", Error("INTERNAL_SERVER_ERROR", "An unexpected error occurred.", "Quote the request_id when you report this.")),
        ("503", Error("SERVICE_UNAVAILABLE", "The service is temporarily unavailable.", "The schedule store cannot be reached. Retry later.")),
    ];

    /// <summary>A query parameter; its example is a JSON value of the parameter's own type (an integer for an integer).</summary>
    private static OpenApiParameter Query(string name, string description, JsonSchemaType type, JsonNode? example) => new()
    {
        Name = name,
        In = ParameterLocation.Query,
        Description = description,
        Required = false,
        Schema = new OpenApiSchema { Type = type },
        Example = example,
    };
}
