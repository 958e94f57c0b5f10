using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace QueryStatus.Client;

/// <summary>
/// The QueryStatus API from .NET: submit, stop, read a status, wait for a query to finish (long-polls with
/// <c>If-None-Match</c>, falling back to plain polls against a server that does not wait), and read a result's rows
/// page by page. Every error answer surfaces as <see cref="QueryStatusException"/>. Register it with
/// <see cref="QueryStatusClientExtensions.AddQueryStatusClient"/>.
/// </summary>
public sealed class QueryStatusClient(HttpClient http, IOptions<QueryStatusClientOptions> options, TimeProvider time)
{
    private const string StatusPath = "enterprise/v2/query/status";
    private readonly QueryStatusClientOptions _options = options.Value;

    /// <summary>Submits a query of <paramref name="subQueries"/> (any JSON); a null <paramref name="scheduleId"/> lets the server name it.</summary>
    public async Task<QueryState> SubmitAsync(
        IEnumerable<JsonElement> subQueries, string? scheduleId = null, DateTimeOffset? notBefore = null, CancellationToken cancellationToken = default)
    {
        var body = new Dictionary<string, object?> { ["subqueries"] = subQueries.ToList() };
        if (scheduleId is not null)
        {
            body["schedule_id"] = scheduleId;
        }
        if (notBefore is { } at)
        {
            body["not_before"] = at.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
        }
        return await SendForStateAsync(() => new HttpRequestMessage(HttpMethod.Post, "enterprise/v2/query/submit") { Content = JsonContent.Create(body) },
            cancellationToken);
    }

    /// <summary>Submits a query given as the submit endpoint's JSON body (<c>{"schedule_id"?, "subqueries", "not_before"?}</c>).</summary>
    public Task<QueryState> SubmitAsync(JsonElement body, CancellationToken cancellationToken = default) =>
        SendForStateAsync(() => new HttpRequestMessage(HttpMethod.Post, "enterprise/v2/query/submit")
        {
            Content = new StringContent(body.GetRawText(), Encoding.UTF8, "application/json"),
        }, cancellationToken);

    /// <summary>Stops a query that has not finished.</summary>
    public Task<QueryState> StopAsync(string scheduleId, CancellationToken cancellationToken = default) =>
        SendForStateAsync(() => new HttpRequestMessage(HttpMethod.Post, "enterprise/v2/query/stop")
        {
            Content = JsonContent.Create(new Dictionary<string, string> { ["schedule_id"] = scheduleId }),
        }, cancellationToken);

    /// <summary>The query's status now (without rows: read them with <see cref="ReadRowsAsync"/>).</summary>
    public async Task<QueryState> GetStatusAsync(string scheduleId, CancellationToken cancellationToken = default) =>
        (await GetPageAsync(scheduleId, 0, 0, null, TimeSpan.Zero, cancellationToken)).State!;

    /// <summary>
    /// Waits until the query has finished and returns its final status, with long-polls of
    /// <see cref="QueryStatusClientOptions.LongPollWait"/>. Without <paramref name="progress"/> each long-poll waits for
    /// the finish itself (one or two requests for a query of a minute); with it, each waits for the next change
    /// (<c>If-None-Match</c>) and every change is reported. Against a server that does not wait (no ETag in its
    /// answers: the original API ignores <c>wait_seconds</c>), it polls every <see cref="QueryStatusClientOptions.PollInterval"/>.
    /// </summary>
    public async Task<QueryState> WaitAsync(string scheduleId, IProgress<WaitProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string? etag = null;
        WaitProgress? reported = null;
        // With a progress to report, the first look answers at once (a state to show, an ETag to wait on).
        var wait = progress is null ? _options.LongPollWait : TimeSpan.Zero;
        while (true)
        {
            var asked = time.GetTimestamp();
            var answer = await GetPageAsync(scheduleId, 0, 0, progress is null ? null : etag, wait, cancellationToken);
            // An answer long before the wait was up that brings no news: the server did not wait (its waiters are full,
            // Status:MaxWaiters, or a proxy drops wait_seconds). Asking again at once would spin; poll at the plain pace.
            var early = wait > TimeSpan.Zero && time.GetElapsedTime(asked) < wait / 2;
            if (answer.State is not { } state)
            {
                // 304: no change while we waited (or, early, without waiting).
                if (early)
                {
                    await Task.Delay(_options.PollInterval, time, cancellationToken);
                }
                continue;
            }
            var now = new WaitProgress(state.StatusCode, state.Progress.QueriesReady, state.Progress.QueriesTotal);
            if (now != reported)
            {
                progress?.Report(now);
                reported = now;
            }
            if (state.IsFinished)
            {
                return state;
            }
            // Without a progress the wait is for the finish, so any unfinished answer is no news.
            var unchanged = progress is null || state.ETag == etag;
            etag = state.ETag;
            if (etag is null || (early && unchanged))
            {
                await Task.Delay(_options.PollInterval, time, cancellationToken);
            }
            wait = _options.LongPollWait;
        }
    }

    /// <summary>Every row of a SUCCESS query, as JSON, following <c>next_offset_start</c> to the end, one page in memory at a time.</summary>
    public async IAsyncEnumerable<JsonElement> ReadRowsAsync(string scheduleId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var row in ReadRawRowsAsync(scheduleId, cancellationToken))
        {
            using var document = JsonDocument.Parse(row);
            yield return document.RootElement.Clone();
        }
    }

    /// <summary>Every row of a SUCCESS query as the UTF-8 bytes the service returned, byte for byte, page by page.</summary>
    /// <exception cref="QueryNotSucceededException">The query is not (or no longer) in SUCCESS.</exception>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadRawRowsAsync(string scheduleId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long? offset = 0;
        long? total = null;
        while (offset is { } start)
        {
            var end = _options.PageSize is { } size ? start + size : (long?)null;
            var page = await GetPageAsync(scheduleId, start, end, null, TimeSpan.Zero, cancellationToken);
            var state = page.State!;
            // The same result throughout: a query submitted again while we read starts a new result.
            if (state.StatusCode != QueryStatusCodes.Success || (total ?? state.Paging.TotalRows) != state.Paging.TotalRows)
            {
                throw new QueryNotSucceededException(state);
            }
            total = state.Paging.TotalRows;
            foreach (var row in page.Rows)
            {
                yield return row;
            }
            offset = state.Paging.NextOffsetStart;
        }
    }

    private sealed record Page(QueryState? State, IReadOnlyList<ReadOnlyMemory<byte>> Rows);

    /// <summary>One status request; State is null for a 304 (the state is still <paramref name="etag"/>'s).</summary>
    private async Task<Page> GetPageAsync(
        string scheduleId, long offsetStart, long? offsetEnd, string? etag, TimeSpan wait, CancellationToken cancellationToken)
    {
        var query = new StringBuilder(StatusPath).Append("?schedule_id=").Append(Uri.EscapeDataString(scheduleId));
        if (offsetStart > 0)
        {
            query.Append("&offset_start=").Append(offsetStart.ToString(CultureInfo.InvariantCulture));
        }
        if (offsetEnd is { } end)
        {
            query.Append("&offset_end=").Append(end.ToString(CultureInfo.InvariantCulture));
        }
        if (wait > TimeSpan.Zero)
        {
            query.Append("&wait_seconds=").Append(((int)wait.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        }
        var url = query.ToString();
        using var response = await http.SendAsync(NewRequest(), HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotModified)
        {
            return new Page(null, []);
        }
        if (!response.IsSuccessStatusCode)
        {
            throw await QueryStatusException.FromAsync(response, cancellationToken);
        }
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return Parse(body, response.Headers.ETag?.ToString());

        HttpRequestMessage NewRequest()
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (etag is not null)
            {
                request.Headers.TryAddWithoutValidation("If-None-Match", etag);
            }
            return request;
        }
    }

    private async Task<QueryState> SendForStateAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken)
    {
        using var message = request();
        using var response = await http.SendAsync(message, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await QueryStatusException.FromAsync(response, cancellationToken);
        }
        return Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken), response.Headers.ETag?.ToString()).State!;
    }

    /// <summary>The answer's meta as a <see cref="QueryState"/>, and its rows as slices of the body (each exactly as sent).</summary>
    private static Page Parse(byte[] body, string? etag)
    {
        using var document = JsonDocument.Parse(body);
        var state = document.RootElement.GetProperty("meta").Deserialize<QueryState>()! with { ETag = etag };

        var rows = new List<ReadOnlyMemory<byte>>();
        var reader = new Utf8JsonReader(body);
        reader.Read(); // {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                reader.Skip();
                continue;
            }
            reader.Read(); // [
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var from = (int)reader.TokenStartIndex;
                reader.Skip();
                rows.Add(body.AsMemory(from, (int)reader.BytesConsumed - from));
            }
        }
        return new Page(state, rows);
    }
}
