using System.Net;
using System.Text.Json;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.OpenApi;

public sealed class SwaggerDocumentTests(QueryStatusFactory factory) : IClassFixture<QueryStatusFactory>
{
    private const string StatusPath = "/enterprise/v2/query/status";

    private async Task<JsonElement> DocumentAsync()
    {
        using var client = factory.CreateAnonymousClient();
        var response = await client.GetAsync("/swagger/v2/swagger.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.ReadJsonAsync();
    }

    private static JsonElement StatusOperation(JsonElement document) =>
        document.GetProperty("paths").GetProperty(StatusPath).GetProperty("get");

    private static string? SchemaRef(JsonElement response) =>
        response.GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString();

    [Fact]
    public async Task DocumentIsServedWithoutAuthenticationAndHasTheStatusPath()
    {
        var document = await DocumentAsync();

        Assert.True(document.GetProperty("paths").TryGetProperty(StatusPath, out var path), $"No {StatusPath} in the document.");
        Assert.True(path.TryGetProperty("get", out _));
    }

    [Fact]
    public async Task StatusOperationDocumentsItsQueryParameters()
    {
        var document = await DocumentAsync();

        var parameters = StatusOperation(document).GetProperty("parameters").EnumerateArray().ToList();
        var names = parameters.Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("schedule_id", names);
        Assert.Contains("offset_start", names);
        Assert.Contains("offset_end", names);
        Assert.Contains("json", names);
        Assert.Contains("wait_seconds", names);
        Assert.All(parameters.Where(p => p.GetProperty("name").GetString() != "If-None-Match"),
            p => Assert.Equal("query", p.GetProperty("in").GetString()));
        Assert.Equal("header", parameters.Single(p => p.GetProperty("name").GetString() == "If-None-Match").GetProperty("in").GetString());
        Assert.True(StatusOperation(document).GetProperty("responses").TryGetProperty("304", out _), "304 is not documented.");
    }

    [Fact]
    public async Task DocumentDeclaresBearerAndQueryApiKeySecuritySchemes()
    {
        var document = await DocumentAsync();

        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        var bearer = schemes.GetProperty("Bearer");
        Assert.Equal("http", bearer.GetProperty("type").GetString());
        Assert.Equal("bearer", bearer.GetProperty("scheme").GetString(), ignoreCase: true);
        var apiKey = schemes.GetProperty("ApiKey");
        Assert.Equal("apiKey", apiKey.GetProperty("type").GetString());
        Assert.Equal("query", apiKey.GetProperty("in").GetString());
        Assert.Equal("api_key", apiKey.GetProperty("name").GetString());

        var required = document.GetProperty("security").EnumerateArray()
            .SelectMany(r => r.EnumerateObject().Select(p => p.Name)).ToList();
        Assert.Contains("Bearer", required);
        Assert.Contains("ApiKey", required);
    }

    [Fact]
    public async Task DocumentDescribesTheErrorEnvelopeForErrorResponses()
    {
        var document = await DocumentAsync();

        var envelope = document.GetProperty("components").GetProperty("schemas").GetProperty("ErrorEnvelopeDoc");
        var properties = envelope.GetProperty("properties");
        Assert.True(properties.TryGetProperty("meta", out _));
        Assert.True(properties.TryGetProperty("error", out _));

        var responses = StatusOperation(document).GetProperty("responses");
        foreach (var status in new[] { "400", "401", "404", "429", "500" })
        {
            Assert.Equal("#/components/schemas/ErrorEnvelopeDoc", SchemaRef(responses.GetProperty(status)));
        }

        var raw = document.GetRawText();
        Assert.Contains("request_id", raw);
        Assert.Contains("description", raw);
    }

    [Fact]
    public async Task SwaggerUiIsServedAsHtml()
    {
        using var client = factory.CreateAnonymousClient();

        var response = await client.GetAsync("/swagger/index.html");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }
}
