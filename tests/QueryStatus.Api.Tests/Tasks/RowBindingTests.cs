using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tasks;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Tasks;

/// <summary>
/// The rows of <c>/rows</c> and <c>/complete</c> are read as raw bytes (<see cref="RawJsonConverter"/>): every kind of
/// JSON value is stored byte for byte as sent, whitespace and escapes included, in small bodies and in large ones,
/// whether the server streams them in many pieces (sent chunked) or reads them whole first (their length declared); a
/// row that is not valid JSON is refused naming its index; on every store provider.
/// </summary>
public class RowBindingTests(string provider = StoreOptions.InMemoryProvider)
{
    /// <summary>Rows of every shape a worker may send, spaced and escaped as a hand-written body might be.</summary>
    public static readonly string[] Shapes =
    [
        """{"a":1}""",
        """{ "b" : [ 1 , 2 ,{"c":"x\"y\u00e9\n\\"} ] ,	"d":null }""",
        """[[[]],[{}],[[1,[2,[3]]]]]""",
        """{"deep":{"er":{"est":[{"k":[true,false,null]}]}}}""",
        """{"k":1,"k":2}""", // a key twice: rows are kept as sent, whatever the request around them must be
        "\"s\\u0041\\\\ \\/ \\t\"",
        "\"\"",
        "\"é ✓ 😀\"",
        "3.5e3",
        "-0",
        "12345678901234567890",
        "true",
        "false",
        "null",
        "[ ]",
        "{}",
    ];

    [Fact]
    public async Task RowsOfEveryShapeAreStoredByteForByte()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();

        var accepted = await worker.RowsOkAsync(task, 0, Shapes);
        Assert.Equal(Shapes.Length, accepted.GetProperty("rows_accepted").GetInt64());
        await worker.CompleteOkAsync(task, [.. Shapes.Reverse()]);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal([.. Shapes, .. Shapes.Reverse()], status.RawRows());
    }

    [Fact]
    public async Task AnEmptyRowsArrayAddsNothing()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();

        Assert.Equal(0, (await worker.RowsOkAsync(task, 0)).GetProperty("rows_accepted").GetInt64());
        await worker.CompleteOkAsync(task, []);

        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal(0, status.TotalRows());
    }

    /// <summary>Bodies whose rows are not all valid JSON, and the path the refusal names (the serializer's, as before).</summary>
    public static readonly TheoryData<string, string, string> BadRows = new()
    {
        { "rows", """[{"a":1}, {bad}]""", "$.rows[1]" },
        { "rows", """[1,]""", "$.rows[1]" },
        { "rows", """[1 2]""", "$.rows[1]" },
        { "rows", """[1,2}""", "$.rows[2]" },
        { "rows", """[{"a":1},{"a":]""", "$.rows[1]" },
        { "rows", """["\x"]""", "$.rows[0]" },
        { "rows", """[nul]""", "$.rows[0]" },
        { "rows", """[01]""", "$.rows[0]" },
        { "rows", """{}""", "$.rows" },
        { "rows", "\"x\"", "$.rows" },
        { "complete", """[{"a":1}, {bad}]""", "$.rows[1]" },
        { "complete", """[[1],[2}]""", "$.rows[1]" },
        { "complete", "5", "$.rows" },
        // Valid JSON grammar, but no text: an escaped surrogate without its pair, in a value or a name.
        { "rows", """[{"a":1},{"x":"\ud800"}]""", "$.rows[1]" },
        { "complete", """[{"\udc00":1}]""", "$.rows[0]" },
        { "rows", """["\ud800\u0041"]""", "$.rows[0]" },
    };

    [Theory]
    [MemberData(nameof(BadRows))]
    public async Task ARowThatIsNotJsonIsRefusedNamingIt(string call, string rows, string path)
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();

        var batch = call == "rows" ? "\"batch\":0," : "";
        var response = await worker.PostAsync($"/{task.TaskId}/{call}", $$"""{"lease_token":"{{task.LeaseToken}}",{{batch}}"rows":{{rows}}}""");
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");

        Assert.Equal($"The request body does not fit this endpoint at {path} (a value of the wrong type, a key given twice, or not valid JSON).", description);
        await AssertNothingStoredAsync(client, worker, task, scheduleId);
    }

    [Fact]
    public async Task ARowThatIsNotUtf8IsRefusedNamingIt()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();
        var head = Encoding.UTF8.GetBytes("{\"lease_token\":\"" + task.LeaseToken + "\",\"batch\":0,\"rows\":[{\"a\":1},{\"x\":\"");
        byte[] body = [.. head, 0xFF, 0xFE, .. "\"}]}"u8];

        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var response = await worker.Http.PostAsync($"{WorkerClient.Prefix}/{task.TaskId}/rows", content);

        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("$.rows[1]", description, StringComparison.Ordinal);
        await AssertNothingStoredAsync(client, worker, task, scheduleId);
    }

    /// <summary>
    /// About 1.5 MB. With its length declared, the server reads it whole before binding (<see cref="WholeBodies"/>); sent
    /// chunked, it is bound as it streams in, in many pieces that rows (one of them longer than a piece) straddle.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ALargeBatchIsStoredByteForByte(bool chunked)
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();
        var rows = LargeBatch(15_000);

        var accepted = chunked ? await RowsChunkedAsync(factory, task, 0, rows) : await worker.RowsOkAsync(task, 0, rows);
        Assert.Equal(rows.Length, accepted.GetProperty("rows_accepted").GetInt64());
        await worker.CompleteOkAsync(task, rows[..1000]);

        var stored = (await client.ReadAllRowsAsync(scheduleId, pageSize: 10_000)).Select(r => r.GetRawText()).ToList();
        Assert.Equal([.. rows, .. rows[..1000]], stored);
    }

    /// <summary>Sends a batch with no declared length, so the server gets it chunked, and returns the 200's body.</summary>
    private static async Task<JsonElement> RowsChunkedAsync(QueryStatusFactory factory, WorkerTask task, int batch, string[] rows)
    {
        var body = Encoding.UTF8.GetBytes($$"""{"lease_token":"{{task.LeaseToken}}","batch":{{batch}},"rows":[{{string.Join(",", rows)}}]}""");
        using var content = new StreamContent(new UnknownLengthStream(body));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        Assert.Null(content.Headers.ContentLength);
        // The factory's usual client buffers a body to follow redirects, and so declares its length: this one has no handlers.
        using var http = factory.CreateDefaultClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestKeys.Worker.Key);
        var response = await http.PostAsync($"{WorkerClient.Prefix}/{task.TaskId}/rows", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return answer.RootElement.Clone();
    }

    /// <summary>
    /// A body read whole sits in a pooled buffer that the next call reuses: what the first call stored must not be a
    /// view of it. Two batches of the same length, different rows, one after the other.
    /// </summary>
    [Fact]
    public async Task RowsOfABatchOutliveTheBufferItArrivedIn()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();
        string[] first = [.. Enumerable.Range(0, 2_000).Select(i => Row($"a{i:D5}"))];
        string[] second = [.. Enumerable.Range(0, 2_000).Select(i => Row($"b{i:D5}"))];

        await worker.RowsOkAsync(task, 0, first);
        await worker.RowsOkAsync(task, 1, second);
        await worker.CompleteOkAsync(task, []);

        var stored = (await client.ReadAllRowsAsync(scheduleId, pageSize: 10_000)).Select(r => r.GetRawText()).ToList();
        Assert.Equal([.. first, .. second], stored);
    }

    [Fact]
    public async Task ABadRowAtTheEndOfALargeBatchIsRefusedNamingIt()
    {
        using var factory = NewFactory(provider);
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        var scheduleId = await client.SubmitAsync(Sub("a"));
        var task = await worker.LeaseOneAsync();
        var rows = LargeBatch(15_000);

        var response = await worker.PostAsync($"/{task.TaskId}/rows",
            $$"""{"lease_token":"{{task.LeaseToken}}","batch":0,"rows":[{{string.Join(",", rows)}},{"bad":]]}""");
        var description = await response.AssertEnvelopeAsync(HttpStatusCode.BadRequest, "BAD_REQUEST");

        Assert.Contains($"at $.rows[{rows.Length}] ", description, StringComparison.Ordinal);
        await AssertNothingStoredAsync(client, worker, task, scheduleId);
    }

    /// <summary>The refused call changed nothing: the lease holds and the run has only what the complete call sends.</summary>
    private static async Task AssertNothingStoredAsync(HttpClient client, WorkerClient worker, WorkerTask task, string scheduleId)
    {
        await worker.CompleteOkAsync(task, [Row("only")]);
        var status = await client.StatusAsync(scheduleId);
        Assert.Equal("SUCCESS", status.StatusCode());
        Assert.Equal([Row("only")], status.RawRows());
    }

    /// <summary><paramref name="count"/> rows cycling through <see cref="Shapes"/>, numbered rows and one long string.</summary>
    internal static string[] LargeBatch(int count) =>
    [
        .. Enumerable.Range(0, count).Select(i => (i % 1000) switch
        {
            500 => $"\"{new string('x', 9000)}\"",
            var k when k % 3 == 0 => $$"""{"date":"2026-11-{{1 + (i % 28):00}}","campaign":"Campaign {{i:D9}}","impressions":{{10000 + i}},"clicks":{{i % 900}}}""",
            _ => Shapes[i % Shapes.Length],
        }),
    ];
}

/// <summary>A readable body whose length the client cannot know in advance, so it is sent chunked.</summary>
internal sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes, writable: false)
{
    public override bool CanSeek => false;
}

public sealed class RowBindingTestsOnPostgres() : RowBindingTests(StoreOptions.PostgresProvider);

/// <summary>
/// <see cref="RawJsonConverter"/> on the inputs the server may hand it: one span, a sequence of segments (down to one
/// byte each, so every value and token straddles them), and a pipe fed a byte at a time (the serializer then reads
/// each value ahead before calling the converter).
/// </summary>
public class RawJsonConverterTests
{
    private static readonly string[] Values = [.. RowBindingTests.Shapes, .. RowBindingTests.LargeBatch(40)];

    private static byte[] Body => Encoding.UTF8.GetBytes("[" + string.Join(" ,\n ", Values) + "]");

    private static void AssertValues(List<RawJson>? read) =>
        Assert.Equal(Values, read!.Select(v => Encoding.UTF8.GetString(v.Utf8.Span)));

    [Fact]
    public void ReadsValuesFromOneSpan() => AssertValues(JsonSerializer.Deserialize<List<RawJson>>(Body));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(4096)]
    public void ReadsValuesFromASequenceOfSegments(int segmentBytes)
    {
        var reader = new Utf8JsonReader(Segments(Body, segmentBytes));
        AssertValues(JsonSerializer.Deserialize<List<RawJson>>(ref reader));
    }

    [Fact]
    public void ReadsValuesFromOneArrayAsASequence()
    {
        var reader = new Utf8JsonReader(new ReadOnlySequence<byte>(Body));
        AssertValues(JsonSerializer.Deserialize<List<RawJson>>(ref reader));
    }

    [Fact]
    public async Task ReadsValuesFromAPipeFilledAByteAtATime()
    {
        var pipe = new Pipe();
        var reading = JsonSerializer.DeserializeAsync<List<RawJson>>(pipe.Reader).AsTask();
        foreach (var b in Body)
        {
            await pipe.Writer.WriteAsync(new[] { b });
        }
        await pipe.Writer.CompleteAsync();
        AssertValues(await reading);
    }

    /// <summary>Refused as a list of <see cref="JsonElement"/> (what the requests bound before) is refused: same path.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void AValueThatIsNotJsonIsRefusedAsBefore(int segmentBytes)
    {
        var body = Encoding.UTF8.GetBytes("""[{"a":[1,2]}, {"b":[1,}]""");
        JsonException Refusal<T>() => Assert.ThrowsAny<JsonException>(() =>
        {
            var reader = new Utf8JsonReader(Segments(body, segmentBytes));
            JsonSerializer.Deserialize<List<T>>(ref reader);
        });
        Assert.Equal(Refusal<JsonElement>().Path, Refusal<RawJson>().Path);
    }

    private static ReadOnlySequence<byte> Segments(byte[] bytes, int segmentBytes)
    {
        Segment? first = null, last = null;
        for (var at = 0; at < bytes.Length; at += segmentBytes)
        {
            var segment = new Segment(bytes.AsMemory(at, Math.Min(segmentBytes, bytes.Length - at)), last);
            first ??= segment;
            last = segment;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
