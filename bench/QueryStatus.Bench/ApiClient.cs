using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace QueryStatus.Bench;

/// <summary>The parts of the QueryStatus HTTP API the driver uses: submit, the worker protocol, status.</summary>
public sealed class ApiClient(HttpClient http, string baseUrl)
{
    public string BaseUrl { get; } = baseUrl;

    public async Task<JsonDocument> PostAsync(string path, string credential, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseUrl + path)
        {
            Content = new ReadOnlyMemoryContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        using var response = await http.SendAsync(request, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new BenchException($"POST {path} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(bytes)}");
        }
        return JsonDocument.Parse(bytes);
    }

    public Task<JsonDocument> PostAsync(string path, string credential, string json, CancellationToken cancellationToken) =>
        PostAsync(path, credential, Encoding.UTF8.GetBytes(json), cancellationToken);

    /// <summary>GET with extra headers; throws unless 200.</summary>
    public static async Task<byte[]> GetBodyAsync(HttpClient http, string url, IReadOnlyList<string> headers, CancellationToken cancellationToken)
    {
        using var response = await GetAsync(http, url, headers, HttpCompletionOption.ResponseContentRead, cancellationToken);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <summary>GET with extra headers, answered once <paramref name="completion"/> says; throws unless 200.</summary>
    private static async Task<HttpResponseMessage> GetAsync(
        HttpClient http, string url, IReadOnlyList<string> headers, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var header in headers)
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            request.Headers.TryAddWithoutValidation(header[..colon].Trim(), header[(colon + 1)..].Trim());
        }
        var response = await http.SendAsync(request, completion, cancellationToken);
        if ((int)response.StatusCode != 200)
        {
            using (response)
            {
                throw new BenchException($"GET {Redact(url)} answered {(int)response.StatusCode}: " +
                    await response.Content.ReadAsStringAsync(cancellationToken));
            }
        }
        return response;
    }

    /// <summary>
    /// Reads a whole result the way a client does: page after page of <paramref name="pageRows"/> rows, each request sent
    /// when the previous answer has arrived, following <c>paging.next_offset_start</c> until it is null. Checks that every
    /// page holds the rows its paging says (rows made by <see cref="WriteRow"/>); returns the rows and bytes read.
    /// </summary>
    public async Task<(long Rows, long Bytes)> ReadWholeResultAsync(
        string clientKey, string scheduleId, int pageRows, CancellationToken cancellationToken)
    {
        string[] headers = [$"Authorization: Bearer {clientKey}"];
        long rows = 0, bytes = 0;
        long? next = 0;
        // One buffer for every page, as a client streaming a result would keep: the load generator runs on the machine it
        // measures, and a fresh array per ~870 KB page (zeroed, in the large object heap) is CPU taken from the service.
        var buffer = new byte[1 << 20];
        while (next is { } start)
        {
            using var response = await GetAsync(http,
                $"{BaseUrl}/enterprise/v2/query/status?schedule_id={scheduleId}&offset_start={start}&offset_end={start + pageRows}",
                headers, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var length = 0;
            await using (var stream = await response.Content.ReadAsStreamAsync(cancellationToken))
            {
                int read;
                while ((read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
                {
                    length += read;
                    if (length == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                }
            }
            var body = buffer.AsSpan(0, length);
            var (offsetStart, offsetEnd, nextStart) = Paging(body);
            var count = body.Count("{\"date\""u8);
            if (offsetStart != start || count != offsetEnd - offsetStart)
            {
                throw new BenchException($"page at {start} of {scheduleId}: paging [{offsetStart}, {offsetEnd}) but {count} rows in the body");
            }
            rows += count;
            bytes += body.Length;
            next = nextStart;
        }
        return (rows, bytes);
    }

    /// <summary>paging.offset_start, offset_end and next_offset_start of a status answer (meta comes before the rows).</summary>
    private static (long Start, long End, long? Next) Paging(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        long start = -1, end = -1;
        long? next = null;
        var inPaging = false;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("data"u8))
                {
                    break;
                }
                if (reader.ValueTextEquals("paging"u8))
                {
                    inPaging = true;
                }
                else if (inPaging && reader.ValueTextEquals("offset_start"u8) && reader.Read())
                {
                    start = reader.GetInt64();
                }
                else if (inPaging && reader.ValueTextEquals("offset_end"u8) && reader.Read())
                {
                    end = reader.GetInt64();
                }
                else if (inPaging && reader.ValueTextEquals("next_offset_start"u8) && reader.Read())
                {
                    next = reader.TokenType == JsonTokenType.Null ? null : reader.GetInt64();
                }
            }
            else if (reader.TokenType == JsonTokenType.EndObject && inPaging)
            {
                inPaging = false;
            }
        }
        return (start, end, next);
    }

    public static string Redact(string url)
    {
        var at = url.IndexOf("api_key=", StringComparison.Ordinal);
        if (at < 0)
        {
            return url;
        }
        var end = url.IndexOf('&', at);
        return url[..(at + 8)] + "***" + (end < 0 ? "" : url[end..]);
    }

    // ---- worker protocol ----------------------------------------------------------------------

    public sealed record Lease(string TaskId, string ScheduleId, string LeaseToken, JsonElement Payload);

    public async Task<Lease?> LeaseOneAsync(string workerKey, string workerId, int leaseSeconds, int waitSeconds, CancellationToken cancellationToken)
    {
        using var answer = await PostAsync("/enterprise/v2/tasks/lease", workerKey,
            $"{{\"worker_id\":\"{workerId}\",\"max_tasks\":1,\"lease_seconds\":{leaseSeconds},\"wait_seconds\":{waitSeconds}}}",
            cancellationToken);
        var tasks = answer.RootElement.GetProperty("tasks");
        if (tasks.GetArrayLength() == 0)
        {
            return null;
        }
        var task = tasks[0];
        return new Lease(
            task.GetProperty("task_id").GetString()!,
            task.GetProperty("schedule_id").GetString()!,
            task.GetProperty("lease_token").GetString()!,
            task.GetProperty("payload").Clone());
    }

    /// <summary>Submits <paramref name="subqueries"/> payloads (JSON texts) as one query; returns the schedule id.</summary>
    public async Task<string> SubmitAsync(string clientKey, string? scheduleId, IEnumerable<string> subqueries, CancellationToken cancellationToken)
    {
        var body = new StringBuilder("{");
        if (scheduleId is not null)
        {
            body.Append("\"schedule_id\":\"").Append(scheduleId).Append("\",");
        }
        body.Append("\"subqueries\":[").AppendJoin(',', subqueries).Append("]}");
        using var answer = await PostAsync("/enterprise/v2/query/submit", clientKey, body.ToString(), cancellationToken);
        return answer.RootElement.GetProperty("meta").GetProperty("schedule_id").GetString()!;
    }

    // ---- rows ---------------------------------------------------------------------------------

    /// <summary>
    /// Row <paramref name="index"/> of the synthetic result: a fixed-width object shaped like the
    /// README's example (about 80 bytes), so pages at any offset have the same size.
    /// </summary>
    public static void WriteRow(IBufferWriter<byte> writer, long index)
    {
        var span = writer.GetSpan(128);
        if (!Utf8.TryWrite(span, CultureInfo.InvariantCulture,
                $"{{\"date\":\"2026-11-{1 + (index % 28):00}\",\"campaign\":\"Campaign {index:D9}\",\"impressions\":{10000 + (index % 90000)},\"clicks\":{100 + (index % 900)}}}",
                out var written))
        {
            throw new InvalidOperationException("row buffer too small");
        }
        writer.Advance(written);
    }

    public static int RowLength
    {
        get
        {
            var w = new ArrayBufferWriter<byte>();
            WriteRow(w, 0);
            return w.WrittenCount;
        }
    }

    /// <summary>
    /// A rows call's body, written into <paramref name="writer"/> (emptied first; a worker keeps one for all its batches): the
    /// load generator runs on the machine it measures, and a fresh 4.5 MB builder per batch (zeroed, in the large object
    /// heap), then a copy of it to send, were half the bench process's CPU during the 10,000,000-row load: 6.1-6.3 s against
    /// 2.7-3.1 s with one builder per worker (bench/RESULTS.md, eleventh session).
    /// </summary>
    public static ReadOnlyMemory<byte> RowsBody(ArrayBufferWriter<byte> writer, string leaseToken, long batch, long firstRow, int count)
    {
        writer.ResetWrittenCount();
        Append(writer, $"{{\"lease_token\":\"{leaseToken}\",\"batch\":{batch},\"rows\":[");
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                Append(writer, ",");
            }
            WriteRow(writer, firstRow + i);
        }
        Append(writer, "]}");
        return writer.WrittenMemory;
    }

    private static void Append(ArrayBufferWriter<byte> writer, string text)
    {
        var count = Encoding.UTF8.GetBytes(text, writer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length)));
        writer.Advance(count);
    }
}
