namespace QueryStatus.Api.Store;

/// <summary>
/// The next deadline of each owner (a run's start, timeout or retention; a lease's expiry), earliest first.
/// An owner has at most one: setting a new one replaces the old, and cancelling removes it, so the timeline
/// holds exactly the live owners and nothing keeps a removed one (or its rows) alive.
/// </summary>
/// <remarks>
/// A priority queue without removal left every superseded deadline in place until it came due: each run's
/// timeout (<c>Scheduler:MaxRunTime</c>, 4 hours by default) kept the whole run, result rows included, in
/// memory for hours after its retention had removed it from the store (issue #15). Not thread-safe: the
/// store calls it under its lock.
/// </remarks>
public sealed class Timeline<TOwner> where TOwner : class
{
    private readonly SortedSet<Entry> _byDue = new(EntryOrder.Instance);
    private readonly Dictionary<TOwner, Entry> _byOwner = new(ReferenceEqualityComparer.Instance);
    private long _sequence;

    /// <summary>Owners with a deadline.</summary>
    public int Count => _byOwner.Count;

    /// <summary>Gives <paramref name="owner"/> the deadline <paramref name="due"/>, replacing the one it had.</summary>
    public void Set(TOwner owner, DateTimeOffset due)
    {
        Cancel(owner);
        // The sequence keeps equal deadlines apart (a sorted set drops "equal" entries) and in the order they were set.
        var entry = new Entry(due, _sequence++, owner);
        _byDue.Add(entry);
        _byOwner.Add(owner, entry);
    }

    public void Cancel(TOwner owner)
    {
        if (_byOwner.Remove(owner, out var entry))
        {
            _byDue.Remove(entry);
        }
    }

    /// <summary>The earliest deadline, if any.</summary>
    public bool TryPeek(out TOwner owner, out DateTimeOffset due)
    {
        if (_byDue.Count == 0)
        {
            (owner, due) = (null!, default);
            return false;
        }
        var first = _byDue.Min;
        (owner, due) = (first.Owner, first.Due);
        return true;
    }

    /// <summary>Removes and returns the earliest deadline if it is at or before <paramref name="now"/>.</summary>
    public bool TryTakeDue(DateTimeOffset now, out TOwner owner, out DateTimeOffset due)
    {
        if (!TryPeek(out owner, out due) || due > now)
        {
            return false;
        }
        Cancel(owner);
        return true;
    }

    private readonly record struct Entry(DateTimeOffset Due, long Sequence, TOwner Owner);

    private sealed class EntryOrder : IComparer<Entry>
    {
        public static readonly EntryOrder Instance = new();

        public int Compare(Entry x, Entry y)
        {
            var byDue = x.Due.CompareTo(y.Due);
            return byDue != 0 ? byDue : x.Sequence.CompareTo(y.Sequence);
        }
    }
}
