using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace QueryStatus.Api.Tasks;

/// <summary>
/// A worker call's body is read whole, into one pooled buffer, before the endpoint binds it. The serializer then sees
/// the complete body in one piece: it reads each row once, over one span. Streamed over Kestrel's 4 KiB segments, it
/// read every row twice (once ahead, to know the value had arrived whole, then in <see cref="RawJsonConverter"/>), and
/// both times over segments. Binding 50,000 rows (bench/QueryStatus.Benchmarks, <c>RowBindingBenchmarks</c>, the read
/// into the buffer included): 207-361 ns a row against 322-549 ns streamed (three runs, 0.40-0.66 of the time in each);
/// ingest into PostgreSQL against COPY 0.59 and 0.64 against 0.50 and 0.54 (bench/RESULTS.md).
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
        app.UseWhen(c => c.Request.ContentLength > 0 && TasksApi.IsWorkerCall(c), branch => branch.Use(async (context, next) =>
        {
            // The server ends the body at its declared length, and refuses one cut short with its own 400
            // (BadHttpRequestException), so reading exactly that many bytes reads all of it.
            var length = checked((int)context.Request.ContentLength!.Value);
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                await context.Request.Body.ReadExactlyAsync(buffer.AsMemory(0, length), context.RequestAborted);
                context.Features.Set<IRequestBodyPipeFeature>(new WholeBody(PipeReader.Create(new ReadOnlySequence<byte>(buffer, 0, length))));
                context.Request.Body = new MemoryStream(buffer, 0, length, writable: false);
                await next(context);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }));

    private sealed class WholeBody(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader { get; } = reader;
    }
}
