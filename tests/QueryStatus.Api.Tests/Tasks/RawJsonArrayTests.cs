using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using QueryStatus.Api.Tasks;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>The array a request's rows are read into: every value kept, in order, across its blocks.</summary>
public sealed class RawJsonArrayTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(4_096)]
    [InlineData(4_097)]
    [InlineData(10_000)]
    public async Task ValuesReadThroughAPipeComeBackInOrderWhateverTheirCount(int count)
    {
        string[] values = [.. Enumerable.Range(0, count).Select(i => i % 3 == 0 ? $$"""{"n":{{i}}}""" : i % 3 == 1 ? $"[{i},\"é\"]" : $"{i}")];
        var pipe = new Pipe();
        var reading = JsonSerializer.DeserializeAsync<RawJsonArray>(pipe.Reader).AsTask();
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("[" + string.Join(",", values) + "]"));
        await pipe.Writer.CompleteAsync();

        var read = (await reading)!;

        Assert.Equal(count, read.Count);
        Assert.Equal(values, read.Select(v => Encoding.UTF8.GetString(v.Utf8.Span)));
        Assert.Equal(values, read.Values.Select(v => Encoding.UTF8.GetString(v.Span)));
        Assert.Equal(values, Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetString(read.Values[i].Span)));
    }

    [Fact]
    public void AnIndexPastTheEndIsRefused()
    {
        var read = JsonSerializer.Deserialize<RawJsonArray>("[1,2]")!;

        Assert.Throws<ArgumentOutOfRangeException>(() => read[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => read.Values[-1]);
    }

    [Fact]
    public void AValueThatIsNotJsonIsRefusedWithItsIndexInThePath()
    {
        var refusal = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<RawJsonArray>("""[{"a":[1,2]}, {"b":[1,}]"""));

        Assert.Equal(Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<List<JsonElement>>("""[{"a":[1,2]}, {"b":[1,}]""")).Path, refusal.Path);
    }
}
