using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.OpenApi;

/// <summary>
/// The served document is clean (issue #11): it names a server, its examples fit their schemas, its component
/// schemas are our wire types (no .NET internals), and every operation keeps its responses and both security
/// schemes. <c>.ci/run</c> also lints the served document with redocly.
/// </summary>
public sealed partial class CleanDocumentTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private const string DocumentPath = "/swagger/v2/swagger.json";

    /// <summary>The request and response bodies of the API, by schema name. A new one is added here on purpose.</summary>
    public static readonly string[] PublicSchemas =
    [
        "CompleteRequest", "ErrorDoc", "ErrorEnvelopeDoc", "ErrorMetaDoc", "FailRequest", "FailureDoc", "HeartbeatRequest",
        "LeaseRequest", "LeaseResponse", "LeasedTaskDoc", "PagingDoc", "ProgressDoc", "RowsRequest", "StatusMetaDoc",
        "StatusResponseDoc", "SubmitRequest", "TaskCallResponse", "WorkflowDoc",
    ];

    /// <summary>The responses each operation documents today; they may grow, never shrink.</summary>
    public static readonly Dictionary<string, string[]> Responses = new()
    {
        ["GetQueryStatus"] = ["200", "400", "401", "403", "404", "429", "500", "503"],
        ["SubmitQuery"] = ["202", "400", "401", "403", "409", "413", "415", "429", "500", "503"],
        ["StopQuery"] = ["200", "400", "401", "403", "404", "409", "429", "500", "503"],
        ["LeaseTasks"] = ["200", "400", "401", "403", "413", "415", "429", "500", "503"],
        ["HeartbeatTask"] = ["200", "400", "401", "403", "404", "409", "413", "415", "429", "500", "503"],
        ["AppendTaskRows"] = ["200", "400", "401", "403", "404", "409", "413", "415", "429", "500", "503"],
        ["CompleteTask"] = ["200", "400", "401", "403", "404", "409", "413", "415", "429", "500", "503"],
        ["FailTask"] = ["200", "400", "401", "403", "404", "409", "413", "415", "429", "500", "503"],
    };

    private static readonly string[] HttpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    private static async Task<JsonElement> DocumentAsync(HttpClient client, string path = DocumentPath)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.ReadJsonAsync();
    }

    private async Task<JsonElement> DocumentAsync()
    {
        using var client = factory.CreateAnonymousClient();
        return await DocumentAsync(client);
    }

    private static IEnumerable<(string Name, JsonElement Operation)> Operations(JsonElement document) =>
        from path in document.GetProperty("paths").EnumerateObject()
        from method in path.Value.EnumerateObject()
        where HttpMethods.Contains(method.Name)
        select (method.Value.TryGetProperty("operationId", out var id) ? id.GetString()! : $"{method.Name} {path.Name}", method.Value);

    [Fact]
    public async Task DocumentNamesARelativeServerSoTryItOutCallsTheHostItWasLoadedFrom()
    {
        var document = await DocumentAsync();

        Assert.True(document.TryGetProperty("servers", out var servers), "The document has no servers.");
        var server = Assert.Single(servers.EnumerateArray());
        Assert.Equal("/", server.GetProperty("url").GetString());
        Assert.False(string.IsNullOrWhiteSpace(server.GetProperty("description").GetString()));
    }

    [Fact]
    public async Task BehindAPathBaseTheServerIsThatPath()
    {
        using var pathBased = factory.WithWebHostBuilder(b => b.ConfigureTestServices(services =>
            services.AddSingleton<IStartupFilter>(new PathBaseStartupFilter("/querystatus"))));
        using var client = pathBased.CreateClient();

        var document = await DocumentAsync(client, "/querystatus" + DocumentPath);

        var server = Assert.Single(document.GetProperty("servers").EnumerateArray());
        Assert.Equal("/querystatus", server.GetProperty("url").GetString());
        Assert.False(string.IsNullOrWhiteSpace(server.GetProperty("description").GetString()));
    }

    [Fact]
    public async Task EveryExampleFitsItsSchema()
    {
        var document = await DocumentAsync();

        var problems = ExampleChecker.Check(document);

        Assert.True(problems.Count == 0, "Examples that do not fit their schema:\n" + string.Join("\n", problems));
    }

    [Fact]
    public async Task StatusPagingParametersHaveIntegerExamples()
    {
        var document = await DocumentAsync();

        var parameters = document.GetProperty("paths").GetProperty("/enterprise/v2/query/status").GetProperty("get")
            .GetProperty("parameters").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        foreach (var name in new[] { "offset_start", "offset_end" })
        {
            Assert.Equal("integer", parameters[name].GetProperty("schema").GetProperty("type").GetString());
            Assert.Equal(JsonValueKind.Number, parameters[name].GetProperty("example").ValueKind);
        }
    }

    [Fact]
    public async Task ComponentSchemasAreOurWireTypesOnly()
    {
        var document = await DocumentAsync();

        var names = document.GetProperty("components").GetProperty("schemas").EnumerateObject().Select(s => s.Name).ToList();

        Assert.All(names, name => Assert.True(IsPublicSchemaName(name),
            $"components.schemas has {name}: a .NET internal type, or a new body type missing from {nameof(PublicSchemas)}."));
        // The response and error bodies are still there.
        Assert.Contains("StatusResponseDoc", names);
        Assert.Contains("ErrorEnvelopeDoc", names);
    }

    [Fact]
    public async Task ALeasedTaskPayloadIsAnyJsonValue()
    {
        var document = await DocumentAsync();

        var payload = document.GetProperty("components").GetProperty("schemas").GetProperty("LeasedTaskDoc")
            .GetProperty("properties").GetProperty("payload");
        Assert.False(payload.TryGetProperty("$ref", out _), $"payload is {payload.GetRawText()}");
        Assert.False(payload.TryGetProperty("type", out _), $"payload is {payload.GetRawText()}");
    }

    [Theory]
    [InlineData("ByteReadOnlyMemory")]
    [InlineData("ByteReadOnlySpan")]
    [InlineData("RawJson")]
    [InlineData("CharMemory")]
    [InlineData("StringStringValuesKeyValuePair")]
    [InlineData("JsonElement")]
    public void TheSchemaNameRuleRejectsInternalTypes(string name) => Assert.False(IsPublicSchemaName(name));

    [Fact]
    public void NoPublicSchemaNameLooksInternal() => Assert.All(PublicSchemas, name => Assert.DoesNotMatch(InternalName(), name));

    [Fact]
    public async Task EveryOperationAcceptsEitherTheBearerOrTheApiKeyScheme()
    {
        var document = await DocumentAsync();

        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.True(schemes.TryGetProperty("Bearer", out _));
        Assert.True(schemes.TryGetProperty("ApiKey", out _));
        var operations = Operations(document).ToList();
        Assert.NotEmpty(operations);
        foreach (var (name, operation) in operations)
        {
            // An operation's own security replaces the document's.
            var security = operation.TryGetProperty("security", out var own) ? own : document.GetProperty("security");
            var requirements = security.EnumerateArray()
                .Select(r => string.Join("+", r.EnumerateObject().Select(s => s.Name).Order(StringComparer.Ordinal)))
                .ToList();
            // One requirement per scheme: either one authenticates.
            Assert.True(requirements.Contains("Bearer") && requirements.Contains("ApiKey"),
                $"{name} requires [{string.Join(", ", requirements)}], not Bearer or ApiKey.");
        }
    }

    [Fact]
    public async Task EveryOperationKeepsItsResponses()
    {
        var document = await DocumentAsync();

        var operations = Operations(document).ToDictionary(o => o.Name, o => o.Operation);
        foreach (var (name, statuses) in Responses)
        {
            Assert.True(operations.TryGetValue(name, out var operation), $"The document has no operation {name}.");
            var documented = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToList();
            Assert.All(statuses, status => Assert.True(documented.Contains(status), $"{name} lost its {status} response."));
        }
    }

    [Fact]
    public async Task EveryTagIsDeclaredWithADescription()
    {
        var document = await DocumentAsync();

        var declared = document.GetProperty("tags").EnumerateArray()
            .ToDictionary(t => t.GetProperty("name").GetString()!, t => t.TryGetProperty("description", out var d) ? d.GetString() : null);
        foreach (var (name, operation) in Operations(document))
        {
            foreach (var tag in operation.TryGetProperty("tags", out var tags) ? tags.EnumerateArray() : default)
            {
                Assert.True(declared.TryGetValue(tag.GetString()!, out var description) && !string.IsNullOrWhiteSpace(description),
                    $"{name}'s tag {tag} has no description.");
            }
        }
    }

    /// <summary>Ours, and nothing that looks like a framework type (Byte..., ...ReadOnly..., ...Memory, ...Span, ...).</summary>
    private static bool IsPublicSchemaName(string name) => PublicSchemas.Contains(name) && !InternalName().IsMatch(name);

    [GeneratedRegex("^(Byte|Char|System|Microsoft|Json)|ReadOnly|Memory|Span|KeyValuePair|Nullable|Enumerable|Dictionary|`")]
    private static partial Regex InternalName();

    private sealed class PathBaseStartupFilter(string pathBase) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UsePathBase(pathBase);
            next(app);
        };
    }
}
