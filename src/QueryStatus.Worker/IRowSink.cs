using System.Text.Json;

namespace QueryStatus.Worker;

/// <summary>
/// Receives a task's rows and any sub-queries it discovers. Rows are JSON values sent byte for byte as given; they go
/// to the service in numbered batches of at most <see cref="QueryStatusWorkerOptions.BatchRows"/> rows and
/// <see cref="QueryStatusWorkerOptions.BatchBytes"/> bytes, the last batch with the completion. Adding waits while a
/// full batch is being sent (back-pressure). Not thread-safe: add from one flow at a time.
/// </summary>
public interface IRowSink
{
    /// <summary>Rows added so far.</summary>
    long RowCount { get; }

    /// <summary>Adds a row: its raw JSON text is sent as is.</summary>
    ValueTask AddAsync(JsonElement row, CancellationToken cancellationToken = default);

    /// <summary>Adds a row given as the UTF-8 bytes of one JSON value (checked to be one; the bytes are copied).</summary>
    ValueTask AddRawAsync(ReadOnlyMemory<byte> utf8Json, CancellationToken cancellationToken = default);

    /// <summary>Adds a new sub-query to the same query; sent with the completion (so only if the task completes).</summary>
    void AddSubQuery(JsonElement payload);

    /// <summary>Adds a new sub-query given as the UTF-8 bytes of one JSON value.</summary>
    void AddRawSubQuery(ReadOnlyMemory<byte> utf8Json);
}

public static class RowSinkExtensions
{
    /// <summary>Adds <paramref name="row"/> serialized with System.Text.Json (<paramref name="options"/> or the defaults).</summary>
    public static ValueTask AddObjectAsync<T>(
        this IRowSink sink, T row, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default) =>
        sink.AddRawAsync(JsonSerializer.SerializeToUtf8Bytes(row, options), cancellationToken);

    /// <summary>Adds a new sub-query serialized with System.Text.Json.</summary>
    public static void AddObjectSubQuery<T>(this IRowSink sink, T payload, JsonSerializerOptions? options = null) =>
        sink.AddRawSubQuery(JsonSerializer.SerializeToUtf8Bytes(payload, options));
}
