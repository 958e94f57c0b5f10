using System.Buffers.Binary;
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
        var hash = new XxHash128();
        Span<byte> number = stackalloc byte[8];
        Append(hash, number, (long)snapshot.Status);
        Append(hash, number, snapshot.QueriesReady);
        Append(hash, number, snapshot.QueriesTotal);
        Append(hash, number, snapshot.Page.Start);
        Append(hash, number, snapshot.Page.End);
        Append(hash, number, snapshot.TotalRows);
        Append(hash, number, snapshot.ExpiresAt?.UtcTicks ?? -1);
        Append(hash, number, snapshot.Failure?.Code);
        Append(hash, number, snapshot.Failure?.Message);
        foreach (var segment in snapshot.Page.Segments)
        {
            hash.Append(segment.Span);
        }
        return $"W/\"{hash.GetCurrentHashAsUInt128():x32}\"";
    }

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
