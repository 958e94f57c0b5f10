using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;
using QueryStatus.Api.Observability;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// Pages of succeeded results this instance has read, by the poll that asked for them, so that a page asked for again
/// and again (a client polling a finished query, which answers with its rows, or several clients reading one result)
/// is not sent by PostgreSQL each time. At most <c>Store:Postgres:PageCacheMegabytes</c> of row bytes. A page is kept
/// the second time the database sends it: a client paging through a result once (the usual read) costs the cache a
/// key per page, and does not push out the pages that polls come back for.
/// </summary>
/// <remarks>
/// Nothing here decides whether a page is still the answer: every poll still runs the status statement, which finds
/// the run as it is now (gone once expired, replaced by a new run when the schedule is submitted again). A succeeded
/// run's rows never change, and a run's id and finish name it alone, so the statement sends a page's slices only
/// when the run it finds is not the one whose page is held here (its <c>page_held</c> column); when it is, the page
/// held is its page. When full, the cache drops entries in the background (expired ones first, then the least
/// recently read), and may refuse a new page until it has.
/// </remarks>
public sealed class PageCache : IDisposable
{
    /// <summary>What an entry costs beyond its row bytes (the entry, the key, the page's segment array), roughly.</summary>
    private const long EntryOverheadBytes = 512;

    public const string BytesGauge = "querystatus.store.page_cache.bytes";
    public const string HitsCounter = "querystatus.store.page_cache.hits";
    public const string MissesCounter = "querystatus.store.page_cache.misses";

    /// <summary>
    /// Windows read once, and the run they were read from: for a minute, and up to this many (a few MiB of entries at
    /// most), least recently read first out. A window read again later counts as read once; without the minute, every
    /// window a client pages through once would stay until pushed out, and the process would grow until then.
    /// </summary>
    private const int SeenWindows = 20_000;

    private static readonly TimeSpan SeenFor = TimeSpan.FromMinutes(1);

    /// <summary>A page nobody read for this long leaves, so that an instance gives back the memory once polls stop.</summary>
    private static readonly TimeSpan HeldUnread = TimeSpan.FromMinutes(10);

    private readonly MemoryCache? _pages;
    private readonly MemoryCache? _seen;
    private readonly Counter<long>? _hits;
    private readonly Counter<long>? _misses;

    /// <param name="maxBytes">Row bytes held at most; 0 holds none.</param>
    /// <param name="meters">Where the cache reports its size, hits and misses (the service's meter), so that an operator can size it.</param>
    public PageCache(long maxBytes, IMeterFactory? meters = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        if (maxBytes == 0)
        {
            return;
        }
        var pages = _pages = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxBytes, TrackStatistics = true });
        _seen = new MemoryCache(new MemoryCacheOptions { SizeLimit = SeenWindows });
        if (meters is not null)
        {
            var meter = meters.Create(Telemetry.MeterName);
            meter.CreateObservableGauge(BytesGauge, () => pages.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0, "By",
                "Bytes of the succeeded results' pages this instance holds (row bytes and a small overhead per page).");
            _hits = meter.CreateCounter<long>(HitsCounter, "{page}", "Pages of succeeded results answered from this instance's cache.");
            _misses = meter.CreateCounter<long>(MissesCounter, "{page}", "Pages of succeeded results the database sent (kept from the second time on).");
        }
    }

    /// <summary>The page held for this poll's window of this schedule, and the run it belongs to; null if none is.</summary>
    public Held? Find(string licenseId, string scheduleId, long start, long end) =>
        _pages is not null && _pages.TryGetValue(new Key(licenseId, scheduleId, start, end), out var held) ? (Held?)held : null;

    /// <summary>Counts a poll answered with the page <see cref="Find"/> gave it.</summary>
    public void Reused() => _hits?.Add(1);

    /// <summary>Drops the page held for this window: the poll found its run gone or replaced, so no poll will use it again.</summary>
    public void Forget(string licenseId, string scheduleId, long start, long end) =>
        _pages?.Remove(new Key(licenseId, scheduleId, start, end));

    /// <summary>
    /// Offers a page that the database sent for this window of a run which succeeded: held if the same run's page was
    /// sent for this window before (pages without rows save nothing).
    /// </summary>
    public void Keep(string licenseId, string scheduleId, long start, long end, long runId, DateTimeOffset? expiresAt, RowPage page)
    {
        if (_pages is null || _seen is null || page.ByteCount == 0)
        {
            return;
        }
        _misses?.Add(1);
        var key = new Key(licenseId, scheduleId, start, end);
        if (_seen.TryGetValue(key, out long seenRun) && seenRun == runId)
        {
            _pages.Set(key, new Held(runId, expiresAt, page),
                new MemoryCacheEntryOptions { Size = page.ByteCount + EntryOverheadBytes, SlidingExpiration = HeldUnread });
            _seen.Remove(key);
        }
        else
        {
            _seen.Set(key, runId, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = SeenFor });
        }
    }

    /// <summary>
    /// Removes what has expired. A <see cref="MemoryCache"/> looks for expired entries only when it is used, so the
    /// sweeper calls this on its interval: an instance that no longer gets polls still gives the memory back.
    /// </summary>
    public void RemoveExpired()
    {
        _pages?.Compact(0);
        _seen?.Compact(0);
    }

    public void Dispose()
    {
        _pages?.Dispose();
        _seen?.Dispose();
    }

    /// <summary>
    /// A page, and the run whose rows it holds: its id and its <c>expires_at</c>, which together name one run even if a
    /// database restored to an earlier point gave a run's id again.
    /// </summary>
    public sealed record Held(long RunId, DateTimeOffset? ExpiresAt, RowPage Page);

    private readonly record struct Key(string LicenseId, string ScheduleId, long Start, long End);
}
