using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Status;

/// <summary>
/// The weak ETag of a status answer: a hash of what this query's answer shows of its own state (status, progress,
/// the page window and total rows, failure, expiry, and the page's rows). Not the request id, and not the license-wide
/// <c>workflow</c> counters: they change with other queries' work, and a poll that waits for this query would
/// otherwise wake for every task of the license.
/// </summary>
public static class StatusETag
{
    public static string Of(StatusSnapshot snapshot)
    {
        // One hasher per thread, reset for each answer: an XxHash128 is a ~600-byte object, a tenth of what a status
        // poll allocated. Nothing here awaits, so the thread's hasher cannot be in use twice at once.
        var hash = t_hash ??= new XxHash128();
        hash.Reset();
        // The fixed-size fields in one append: the same bytes in the same order as one append each (the digest of a
        // stream does not depend on how it is cut), so the ETag of a state is what it always was.
        Span<byte> numbers = stackalloc byte[7 * sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(numbers, (long)snapshot.Status);
        BinaryPrimitives.WriteInt64LittleEndian(numbers[8..], snapshot.QueriesReady);
        BinaryPrimitives.WriteInt64LittleEndian(numbers[16..], snapshot.QueriesTotal);
        BinaryPrimitives.WriteInt64LittleEndian(numbers[24..], snapshot.Page.Start);
        BinaryPrimitives.WriteInt64LittleEndian(numbers[32..], snapshot.Page.End);
        BinaryPrimitives.WriteInt64LittleEndian(numbers[40..], snapshot.TotalRows);
        BinaryPrimitives.WriteInt64LittleEndian(numbers[48..], snapshot.ExpiresAt?.UtcTicks ?? -1);
        hash.Append(numbers);
        Span<byte> number = numbers[..sizeof(long)];
        Append(hash, number, snapshot.Failure?.Code);
        Append(hash, number, snapshot.Failure?.Message);
        foreach (var segment in snapshot.Page.Segments)
        {
            hash.Append(segment.Span);
        }
        return string.Create(Length, hash.GetCurrentHashAsUInt128(), static (chars, value) =>
        {
            "W/\"".CopyTo(chars);
            value.TryFormat(chars[3..^1], out _, "x32", CultureInfo.InvariantCulture);
            chars[^1] = '"';
        });
    }

    /// <summary>W/"…": a weak tag around 32 hex digits.</summary>
    private const int Length = 3 + 32 + 1;

    [ThreadStatic]
    private static XxHash128? t_hash;

    /// <summary>
    /// Whether <c>If-None-Match</c> names <paramref name="etag"/> (the weak comparison, as RFC 9110 asks of it), or is
    /// <c>*</c>. A header that does not parse matches nothing: the client gets the full answer.
    /// </summary>
    public static bool Matches(StringValues ifNoneMatch, string etag)
    {
        if (!EntityTagHeaderValue.TryParseList(ifNoneMatch, out var tags))
        {
            return false;
        }
        var ours = EntityTagHeaderValue.Parse(etag);
        foreach (var tag in tags)
        {
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(ours, useStrongComparison: false))
            {
                return true;
            }
        }
        return false;
    }

    private static void Append(XxHash128 hash, Span<byte> buffer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer, value);
        hash.Append(buffer);
    }

    /// <summary>A text, prefixed by its length (-1 for none), so that no two pairs of texts hash alike by running together.</summary>
    private static void Append(XxHash128 hash, Span<byte> buffer, string? text)
    {
        Append(hash, buffer, text is null ? -1 : Encoding.UTF8.GetByteCount(text));
        if (text is not null)
        {
            hash.Append(Encoding.UTF8.GetBytes(text));
        }
    }
}
