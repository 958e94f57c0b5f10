using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;
using QueryStatus.Api.Observability;

namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// Pages of succeeded results this instance has read, by the poll that asked for them, so that a page asked for again
/// and again (a client polling a finished query, which answers with its rows, or several clients reading one result)
/// is not sent by PostgreSQL each time. At most <c>Store:Postgres:PageCacheMegabytes</c> of row bytes. A page is kept
/// the second time the database sends it: a client paging through a result once (the usual read) costs the cache a
/// key per page, and does not push out the pages that polls come back for. Such a client, once it asks for the page
/// after the one it read, gets the next one read ahead (<see cref="ReadAhead"/>), held until it comes for it.
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
    public const string ReadAheadCounter = "querystatus.store.page_cache.read_ahead";

    /// <summary>
    /// Windows read once, and the run they were read from: for a minute, and up to this many (a few MiB of entries at
    /// most), least recently read first out. A window read again later counts as read once; without the minute, every
    /// window a client pages through once would stay until pushed out, and the process would grow until then.
    /// </summary>
    private const int SeenWindows = 20_000;

    private static readonly TimeSpan SeenFor = TimeSpan.FromMinutes(1);

    /// <summary>A page nobody read for this long leaves, so that an instance gives back the memory once polls stop.</summary>
    private static readonly TimeSpan HeldUnread = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Pages read ahead at once, at most, per instance: each holds a connection while PostgreSQL sends it, and a few
    /// clients paging through results are what this is for, not many.
    /// </summary>
    private const int MaxReadingAhead = 4;

    /// <summary>A page read ahead that its reader did not come for within this time leaves (the reader stopped).</summary>
    private static readonly TimeSpan AheadUnread = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<Key, Task<Exception?>> _ahead = new();
    private int _readingAhead;

    private readonly MemoryCache? _pages;
    private readonly MemoryCache? _seen;
    private readonly Counter<long>? _hits;
    private readonly Counter<long>? _misses;
    private readonly Counter<long>? _readAhead;

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
            _hits = meter.CreateCounter<long>(HitsCounter, "{page}", "Pages of succeeded results read again and answered from this instance's cache.");
            _misses = meter.CreateCounter<long>(MissesCounter, "{page}", "Pages of succeeded results the database sent (kept from the second time on).");
            _readAhead = meter.CreateCounter<long>(ReadAheadCounter, "{page}",
                "Pages of succeeded results the database sent before a poll asked for them, for clients paging through a result.");
        }
    }

    /// <summary>The page held for this poll's window of this schedule, and the run it belongs to; null if none is.</summary>
    public Held? Find(string licenseId, string scheduleId, long start, long end) =>
        _pages is not null && _pages.TryGetValue(new Key(licenseId, scheduleId, start, end), out var held) ? (Held?)held : null;

    /// <summary>
    /// Counts a poll answered with the page <see cref="Find"/> gave it. A page read ahead is its reader's: it leaves
    /// once read and counts as read once (not as a hit: the database sent it for this poll), so that a client paging
    /// through a result does not fill the cache.
    /// </summary>
    public void Reused(string licenseId, string scheduleId, long start, long end, Held held)
    {
        if (!held.ReadAhead)
        {
            _hits?.Add(1);
            return;
        }
        var key = new Key(licenseId, scheduleId, start, end);
        // Only this entry: another poll may have held the window's page since (Keep), and that one stays.
        if (_pages is not null && _pages.TryGetValue(key, out Held? current) && ReferenceEquals(current, held))
        {
            _pages.Remove(key);
        }
        _seen?.Set(key, held.RunId, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = SeenFor });
    }

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
    /// Whether the poll of this window follows a read of the window just before it, of the same size and run: a client
    /// paging through the result, who will ask for the window after it next.
    /// </summary>
    public bool FollowsRead(string licenseId, string scheduleId, long start, long end, long runId)
    {
        var size = end - start;
        return _seen is not null && size > 0 && start >= size
            && _seen.TryGetValue(new Key(licenseId, scheduleId, start - size, start), out long seenRun) && seenRun == runId;
    }

    /// <summary>
    /// Reads a window before a poll asks for it (<paramref name="read"/>, which answers null if the run did not
    /// succeed) and holds its page until that poll comes, so that PostgreSQL sends the next page while this instance
    /// and the client are busy with the last one. Nothing happens if the window is held or being read already, or
    /// <see cref="MaxReadingAhead"/> are being read. A page read ahead goes first when the cache needs room, and leaves
    /// a minute after it was read ahead if no poll came for it.
    /// </summary>
    /// <remarks>
    /// The read runs on its own, outside the poll that started it (no request's context, trace or cancellation): it
    /// belongs to the poll that will come for it.
    /// </remarks>
    public void ReadAhead(string licenseId, string scheduleId, long start, long end, Func<Task<Held?>> read)
    {
        var key = new Key(licenseId, scheduleId, start, end);
        if (_pages is not { } pages || pages.TryGetValue(key, out _))
        {
            return;
        }
        if (Interlocked.Increment(ref _readingAhead) > MaxReadingAhead)
        {
            Interlocked.Decrement(ref _readingAhead);
            return;
        }
        var reading = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_ahead.TryAdd(key, reading.Task))
        {
            Interlocked.Decrement(ref _readingAhead);
            return;
        }
        using (ExecutionContext.SuppressFlow())
        {
            _ = ReadAsync();
        }

        async Task ReadAsync()
        {
            Exception? failure = null;
            try
            {
                if (await read() is { Page.ByteCount: > 0 } held && !pages.TryGetValue(key, out _))
                {
                    _readAhead?.Add(1);
                    pages.Set(key, held with { ReadAhead = true }, new MemoryCacheEntryOptions
                    {
                        Size = held.Page.ByteCount + EntryOverheadBytes,
                        Priority = CacheItemPriority.Low,
                        AbsoluteExpirationRelativeToNow = AheadUnread,
                    });
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                _ahead.TryRemove(key, out _);
                Interlocked.Decrement(ref _readingAhead);
                reading.SetResult(failure);
            }
        }
    }

    /// <summary>
    /// Completes when no read ahead of this window is on its way, with what made it fail if it failed (null otherwise):
    /// a poll waits for it rather than have PostgreSQL send the same page twice, and answers the failure as its own,
    /// within the same time, rather than try again after it. A read ahead that no poll waited for fails unseen.
    /// </summary>
    public Task<Exception?> ReadingAhead(string licenseId, string scheduleId, long start, long end) =>
        Volatile.Read(ref _readingAhead) > 0 && _ahead.TryGetValue(new Key(licenseId, scheduleId, start, end), out var reading)
            ? reading
            : NoneAhead;

    private static readonly Task<Exception?> NoneAhead = Task.FromResult<Exception?>(null);

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
    /// database restored to an earlier point gave a run's id again. <see cref="ReadAhead"/>: read before a poll asked for it.
    /// </summary>
    public sealed record Held(long RunId, DateTimeOffset? ExpiresAt, RowPage Page, bool ReadAhead = false);

    private readonly record struct Key(string LicenseId, string ScheduleId, long Start, long End);
}
