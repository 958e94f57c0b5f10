using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace QueryStatus.Api.Tasks;

/// <summary>
/// A worker call's body is read whole, into one pooled buffer, before the endpoint binds it. The serializer then sees
/// the complete body in one piece: it reads each row once, over one span. Streamed over Kestrel's 4 KiB segments, it
/// read every row twice (once ahead, to know the value had arrived whole, then in <see cref="RawJsonConverter"/>), and
/// both times over segments. Binding 50,000 rows (bench/QueryStatus.Benchmarks, <c>RowBindingBenchmarks</c>, the copy
/// included): 220-224 ns a row against 334-337 ns streamed; ingest into PostgreSQL against COPY 0.59 and 0.64 against
/// 0.50 and 0.54 (bench/RESULTS.md).
/// </summary>
/// <remarks>
/// Only calls that declare their length, after authorization (an unauthenticated caller never gets a buffer), and
/// within the cap <see cref="TasksApi.UseWorkerBodyLimit"/> already enforced on that length. A chunked body keeps the
/// streaming path; both paths bind through the same serializer, so a body reads the same either way. The values
/// read are copied out of the buffer (<see cref="RawJsonChunks"/>), so it goes back to the pool when the call ends.
/// </remarks>
public static class WholeBodies
{
    public static IApplicationBuilder UseWholeWorkerBodies(this IApplicationBuilder app) =>
        app.UseWhen(c => c.Request.ContentLength > 0 && c.Request.Path.StartsWithSegments(TasksApi.Prefix),
            branch => branch.Use(async (context, next) =>
            {
                var length = checked((int)context.Request.ContentLength!.Value);
                var buffer = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    var read = await ReadAsync(context.Request.BodyReader, buffer.AsMemory(0, length), context.RequestAborted);
                    context.Features.Set<IRequestBodyPipeFeature>(new WholeBody(PipeReader.Create(new ReadOnlySequence<byte>(buffer, 0, read))));
                    context.Request.Body = new MemoryStream(buffer, 0, read, writable: false);
                    await next(context);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }));

    /// <summary>
    /// Fills <paramref name="destination"/> from the body and says how much it filled. The server ends the body at its
    /// declared length and refuses one cut short with its own 400 (<see cref="BadHttpRequestException"/>), so that is all of it.
    /// </summary>
    public static async Task<int> ReadAsync(PipeReader reader, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var take = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, destination.Length - filled));
            take.CopyTo(destination.Span[filled..]);
            filled += (int)take.Length;
            reader.AdvanceTo(take.End);
            if (result.IsCompleted || filled == destination.Length)
            {
                return filled;
            }
        }
    }

    private sealed class WholeBody(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader { get; } = reader;
    }
}
