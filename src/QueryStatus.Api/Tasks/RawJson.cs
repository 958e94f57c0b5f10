using System.Buffers;
using System.Collections;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using QueryStatus.Api.Http;

namespace QueryStatus.Api.Tasks;

/// <summary>
/// A JSON value kept as the UTF-8 bytes it arrived as and written out unchanged: sub-query payloads and result rows
/// are opaque to the service, so they are stored, and a worker or client gets them, byte for byte as sent.
/// </summary>
[JsonConverter(typeof(RawJsonConverter))]
public readonly record struct RawJson(ReadOnlyMemory<byte> Utf8);

/// <summary>
/// Reads one JSON value as its raw bytes: the reader skips it (checking it is valid JSON) and its bytes are copied
/// once, with no <see cref="JsonDocument"/> per value. Ingest reads tens of thousands of rows per request; a
/// document per row (its copy of the bytes, its token table, then a copy of the raw bytes out of it) was most of the
/// server's cost of a row. bench/QueryStatus.Benchmarks/RowBindingBenchmarks.cs (50,000 rows over 4 KiB segments): 0.12×
/// the time of binding to <c>List&lt;JsonElement&gt;</c>, 128 B allocated per row instead of 524 B; server CPU per ingested
/// row 3.98–4.68 → 2.10–2.29 µs in memory (bench/RESULTS.md).
/// </summary>
/// <remarks>
/// A converter for one element, not for the whole array: a list of these keeps the serializer's own resumable list
/// converter, which reads ahead one element at a time, so a body that is not valid JSON is refused with the same
/// path as before (<c>$.rows[3]</c>, not <c>$.rows</c>) and a large batch is not re-scanned while it arrives.
/// </remarks>
public sealed class RawJsonConverter : JsonConverter<RawJson>
{
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        new(reader.TokenType switch
        {
            JsonTokenType.StartObject or JsonTokenType.StartArray => Checked(ReadContainer(ref reader)),
            JsonTokenType.String => Checked(ReadString(ref reader)),
            // A number, true, false or null: the token is the whole value, in ASCII.
            _ => CopyToken(ref reader),
        });

    /// <summary>Refuses a value that is not readable text (<see cref="JsonText"/>).</summary>
    private static ReadOnlyMemory<byte> Checked(ReadOnlyMemory<byte> value) =>
        JsonText.IsReadable(value.Span)
            ? value
            : throw new JsonException($"The value must be {JsonText.Rule}.");

    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options)
    {
        if (value.Utf8.IsEmpty)
        {
            writer.WriteNullValue(); // A seeded task has no payload.
        }
        else
        {
            writer.WriteRawValue(value.Utf8.Span, skipInputValidation: true);
        }
    }

    /// <summary>A string's token is its contents, escapes as sent; the quotes go back around it.</summary>
    private static ReadOnlyMemory<byte> ReadString(ref Utf8JsonReader reader)
    {
        var length = (reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length) + 2;
        var bytes = RawJsonChunks.Allocate(length);
        var span = bytes.Span;
        span[0] = (byte)'"';
        CopyValue(ref reader, span[1..^1]);
        span[^1] = (byte)'"';
        return bytes;
    }

    private static ReadOnlyMemory<byte> CopyToken(ref Utf8JsonReader reader)
    {
        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var bytes = RawJsonChunks.Allocate(length);
        CopyValue(ref reader, bytes.Span);
        return bytes;
    }

    private static void CopyValue(ref Utf8JsonReader reader, Span<byte> destination)
    {
        if (reader.HasValueSequence)
        {
            reader.ValueSequence.CopyTo(destination);
        }
        else
        {
            reader.ValueSpan.CopyTo(destination);
        }
    }

    /// <summary>
    /// An object or array: from its opening token to the end of its closing one. The reader does not hand out those
    /// bytes, so they are taken from its input: over one span (a body that arrived in one piece) that span holds the
    /// whole value from the opening token's byte on; over a sequence of segments (a body the server read as a
    /// <c>PipeReader</c>'s segments, .NET 10's default), the value runs from the reader's position after the opening
    /// token to its position after the closing one, which name their segments.
    /// </summary>
    private static ReadOnlyMemory<byte> ReadContainer(ref Utf8JsonReader reader)
    {
        var opening = reader.TokenType == JsonTokenType.StartObject ? (byte)'{' : (byte)'[';
        var start = reader.TokenStartIndex;
        var afterOpening = reader.Position;
        if (afterOpening.GetObject() is not (null or ReadOnlySequenceSegment<byte>))
        {
            // A sequence over one array or memory manager: not what ASP.NET Core reads a body as; the slow, sure way.
            using var document = JsonDocument.ParseValue(ref reader);
            var raw = JsonMarshal.GetRawUtf8Value(document.RootElement);
            var copy = RawJsonChunks.Allocate(raw.Length);
            raw.CopyTo(copy.Span);
            return copy;
        }
        ref var first = ref MemoryMarshal.GetReference(reader.ValueSpan);

        // The serializer has the whole value in its buffer before it calls a converter, so this never runs out of
        // input; it does check the value is valid JSON, as parsing it into a document did.
        if (!reader.TrySkip())
        {
            throw new JsonException("The value is incomplete.");
        }
        var length = checked((int)(reader.BytesConsumed - start));
        var bytes = RawJsonChunks.Allocate(length);
        var destination = bytes.Span;
        if (afterOpening.GetObject() is null)
        {
            MemoryMarshal.CreateReadOnlySpan(ref first, length).CopyTo(destination);
        }
        else
        {
            var afterClosing = reader.Position;
            var rest = new ReadOnlySequence<byte>(
                (ReadOnlySequenceSegment<byte>)afterOpening.GetObject()!, afterOpening.GetInteger(),
                (ReadOnlySequenceSegment<byte>)afterClosing.GetObject()!, afterClosing.GetInteger());
            if (rest.Length != length - 1)
            {
                throw new InvalidOperationException($"A JSON value of {length} bytes spans {rest.Length + 1} bytes of its input.");
            }
            destination[0] = opening;
            rest.CopyTo(destination[1..]);
        }
        return bytes;
    }
}

/// <summary>
/// Where read values' bytes go: chunks of 64 KiB (under the large object heap's threshold) that the values of one
/// thread's reads share, each value a slice. One allocation per few hundred rows instead of one (or, through a
/// document, several) per row. Chunks are never reused: a chunk lives as long as any value in it, and the stores copy
/// what they keep, so a request's chunks die with it.
/// </summary>
internal static class RawJsonChunks
{
    public const int ChunkBytes = 64 * 1024;

    /// <summary>Values larger than this get an array of their own, so that a chunk wastes at most this much at its end.</summary>
    public const int LargeValueBytes = ChunkBytes / 16;

    [ThreadStatic] private static byte[]? t_chunk;
    [ThreadStatic] private static int t_used;

    public static Memory<byte> Allocate(int length)
    {
        if (length > LargeValueBytes)
        {
            return GC.AllocateUninitializedArray<byte>(length);
        }
        var chunk = t_chunk;
        var used = t_used;
        if (chunk is null || ChunkBytes - used < length)
        {
            t_chunk = chunk = GC.AllocateUninitializedArray<byte>(ChunkBytes);
            used = 0;
        }
        t_used = used + length;
        return chunk.AsMemory(used, length);
    }
}

/// <summary>
/// The values of a JSON array (a batch's rows, a completion's sub-queries) as the serializer reads them, kept in blocks
/// of at most 4,096 (64 KiB, under the large object heap's threshold) that are never copied, and handed to the stores as
/// their bytes (<see cref="Values"/>).
/// </summary>
/// <remarks>
/// A <c>List&lt;RawJson&gt;</c> grows by doubling: a 50,000-row batch copied its entries into ever larger arrays
/// (reference-holding copies, with the GC's card marking), the last four of them in the large object heap, whose memory
/// the kernel faulted in again after every gen2 collection. Blocks instead: the service's CPU per row ingested into
/// PostgreSQL 0.71 → 0.54 µs, page faults per row 0.006 → 0.001 (bench/RESULTS.md). The first block still starts small
/// and doubles, so a short array costs what a list does.
/// </remarks>
public sealed class RawJsonArray : ICollection<RawJson>
{
    private const int BlockShift = 12;
    private const int BlockSize = 1 << BlockShift;
    private const int FirstBlockSize = 16;

    private readonly List<RawJson[]> _blocks = [];

    public int Count { get; private set; }

    public bool IsReadOnly => false;

    public RawJson this[int index] =>
        (uint)index < (uint)Count ? _blocks[index >> BlockShift][index & (BlockSize - 1)] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The values' bytes, in order, as the stores take them.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Values => new Utf8View(this);

    public void Add(RawJson item)
    {
        var block = Count >> BlockShift;
        var at = Count & (BlockSize - 1);
        if (block == _blocks.Count)
        {
            _blocks.Add(new RawJson[block == 0 ? FirstBlockSize : BlockSize]);
        }
        else if (at == _blocks[block].Length)
        {
            // Only the first block is ever short: it doubles until it is a whole block.
            var grown = new RawJson[Math.Min(at * 2, BlockSize)];
            _blocks[block].CopyTo(grown, 0);
            _blocks[block] = grown;
        }
        _blocks[block][at] = item;
        Count++;
    }

    public void Clear()
    {
        _blocks.Clear();
        Count = 0;
    }

    public bool Contains(RawJson item) => IndexOf(item) >= 0;

    public void CopyTo(RawJson[] array, int arrayIndex)
    {
        for (var i = 0; i < Count; i++)
        {
            array[arrayIndex + i] = this[i];
        }
    }

    public bool Remove(RawJson item) => throw new NotSupportedException("The values of a request are read, not edited.");

    public IEnumerator<RawJson> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(RawJson item)
    {
        for (var i = 0; i < Count; i++)
        {
            if (this[i].Equals(item))
            {
                return i;
            }
        }
        return -1;
    }

    private sealed class Utf8View(RawJsonArray values) : IReadOnlyList<ReadOnlyMemory<byte>>
    {
        public int Count => values.Count;

        public ReadOnlyMemory<byte> this[int index] => values[index].Utf8;

        public IEnumerator<ReadOnlyMemory<byte>> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
            {
                yield return values[i].Utf8;
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
