using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using BenchmarkDotNet.Attributes;
using QueryStatus.Api.Tasks;

namespace QueryStatus.Benchmarks;

/// <summary>
/// Binding a worker's <c>/rows</c> body (50,000 rows of 86 bytes, as the HTTP benchmark sends) to the rows the store
/// takes, per row (OperationsPerInvoke): read the way ASP.NET Core 10 reads a JSON body (the serializer over a
/// <see cref="PipeReader"/> of 4 KiB segments, web defaults). Before: a <see cref="JsonElement"/> per row, then a copy
/// of its raw bytes; now: <see cref="RowsRequest"/> as the service binds it.
/// </summary>
[MemoryDiagnoser]
public class RowBindingBenchmarks
{
    private const int Count = 50_000;
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private byte[] _body = null!;

    [GlobalSetup]
    public void Setup()
    {
        var body = new StringBuilder("{\"lease_token\":\"lt_0123456789abcdef0123456789abcdef\",\"batch\":0,\"rows\":[");
        var row = new byte[128];
        for (var i = 0; i < Count; i++)
        {
            body.Append(i == 0 ? "" : ",").Append(Encoding.UTF8.GetString(row, 0, Rows.Write(row, i)));
        }
        _body = Encoding.UTF8.GetBytes(body.Append("]}").ToString());
    }

    private PipeReader Body() => PipeReader.Create(new MemoryStream(_body), new StreamPipeReaderOptions(bufferSize: 4096));

    [Benchmark(Baseline = true, OperationsPerInvoke = Count, Description = "JsonElement per row, then its bytes copied")]
    public async Task<int> Elements()
    {
        var request = await JsonSerializer.DeserializeAsync<ElementRowsRequest>(Body(), Web);
        IReadOnlyList<ReadOnlyMemory<byte>> rows = [.. request!.Rows!.Select(v => (ReadOnlyMemory<byte>)JsonMarshal.GetRawUtf8Value(v).ToArray())];
        return rows.Count;
    }

    [Benchmark(OperationsPerInvoke = Count, Description = "RowsRequest (RawJson per row)")]
    public async Task<int> RawRows()
    {
        var request = await JsonSerializer.DeserializeAsync<RowsRequest>(Body(), Web);
        return request!.Rows!.Count;
    }

    /// <summary>
    /// As the service binds a worker call that declares its length (<see cref="WholeBodies"/>): the 4 KiB segments read
    /// as a stream (as the middleware reads the request body) into one pooled buffer, then the serializer over that
    /// buffer as one final block, which reads each row once.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Count, Description = "RowsRequest from the whole body (WholeBodies)")]
    public async Task<int> WholeBody()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(_body.Length);
        try
        {
            await Body().AsStream().ReadExactlyAsync(buffer.AsMemory(0, _body.Length));
            var request = await JsonSerializer.DeserializeAsync<RowsRequest>(PipeReader.Create(new ReadOnlySequence<byte>(buffer, 0, _body.Length)), Web);
            return request!.Rows!.Count;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The request as it was bound before <see cref="RawJson"/> rows.</summary>
    public sealed class ElementRowsRequest
    {
        [JsonPropertyName("lease_token")] public string? LeaseToken { get; set; }
        [JsonPropertyName("batch")] public long? Batch { get; set; }
        [JsonPropertyName("rows")] public List<JsonElement>? Rows { get; set; }
    }
}
