using System.Text.Json;

namespace QueryStatus.Api.Tests.OpenApi;

/// <summary>The checker behind <see cref="CleanDocumentTests.EveryExampleFitsItsSchema"/> finds what it must.</summary>
public sealed class ExampleCheckerTests
{
    private static IReadOnlyList<string> Check(string document)
    {
        using var json = JsonDocument.Parse(document);
        return ExampleChecker.Check(json.RootElement.Clone());
    }

    private static string Parameter(string type, string example) =>
        """
        {"openapi":"3.0.4","paths":{"/x":{"get":{"parameters":[
          {"name":"n","in":"query","schema":{"type":"TYPE"},"example":EXAMPLE}],"responses":{}}}}}
        """.Replace("TYPE", type).Replace("EXAMPLE", example);

    [Theory]
    [InlineData("integer", "\"0\"")]
    [InlineData("integer", "1.5")]
    [InlineData("string", "0")]
    [InlineData("boolean", "\"true\"")]
    [InlineData("integer", "null")]
    public void AParameterExampleOfAnotherTypeIsFound(string type, string example) =>
        Assert.Single(Check(Parameter(type, example)));

    [Theory]
    [InlineData("integer", "0")]
    [InlineData("integer", "100")]
    [InlineData("string", "\"demo_done\"")]
    [InlineData("boolean", "true")]
    [InlineData("number", "1.5")]
    public void AParameterExampleOfItsTypePasses(string type, string example) =>
        Assert.Empty(Check(Parameter(type, example)));

    private const string Components = """
        "components":{"schemas":{
          "Paging":{"type":"object","properties":{
            "offset_end":{"type":"integer","format":"int64"},
            "next":{"type":"integer","format":"int64","nullable":true},
            "at":{"type":"string","format":"date-time"}},"additionalProperties":false},
          "Body":{"type":"object","properties":{"paging":{"$ref":"#/components/schemas/Paging"},
            "data":{"type":"array","items":{}}}}}}
        """;

    private static string MediaExample(string example) =>
        """
        {"openapi":"3.0.4","paths":{"/x":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{
          "schema":{"$ref":"#/components/schemas/Body"},"example":EXAMPLE}}}}}}},COMPONENTS}
        """.Replace("EXAMPLE", example).Replace("COMPONENTS", Components);

    [Fact]
    public void AMediaTypeExampleThatFitsThroughReferencesPasses() =>
        Assert.Empty(Check(MediaExample("""{"paging":{"offset_end":2,"next":null,"at":"2026-11-29T11:00:00Z"},"data":[1,{"a":"b"}]}""")));

    [Theory]
    [InlineData("""{"paging":{"offset_end":"2"}}""")]
    [InlineData("""{"paging":{"next":null,"at":"yesterday"}}""")]
    [InlineData("""{"paging":{"unknown":1}}""")]
    [InlineData("""{"paging":[]}""")]
    public void AMediaTypeExampleWithAWrongNestedValueIsFound(string example) =>
        Assert.Single(Check(MediaExample(example)));

    [Fact]
    public void ASchemaExampleOfAnotherTypeIsFound() =>
        Assert.Single(Check("""
            {"openapi":"3.0.4","paths":{},"components":{"schemas":{"Paging":{"type":"object","properties":{
              "offset_start":{"type":"integer","example":"0"}}}}}}
            """));
}
