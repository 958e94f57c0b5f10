namespace QueryStatus.Api.Store;

/// <summary>
/// How every store hands out queued tasks, in one place: licenses in rotation order, each pass giving every license
/// that has a queued task and room under its concurrency limit one task; a served license that still has queued tasks
/// goes to the back, a license with none leaves the rotation; it stops at the number asked for, or when a whole pass
/// serves nobody. The stores differ only in what a license is (the in-memory queues, or counts read under row locks).
/// </summary>
public static class LeaseRotation
{
    /// <summary>A license's concurrency limit: its own (<c>Licenses:{id}:MaxConcurrentTasks</c>) or the default.</summary>
    public static int MaxConcurrent(string licenseId, SchedulerOptions scheduler, LicensesOptions licenses) =>
        licenses.TryGetValue(licenseId, out var options) && options.MaxConcurrentTasks is { } limit
            ? limit
            : scheduler.DefaultMaxConcurrentTasks;

    /// <summary>
    /// Serves up to <paramref name="max"/> tasks from <paramref name="rotation"/>, reordering it as it goes:
    /// <paramref name="takeOne"/> takes a license's first queued task; <paramref name="left"/> hears of each license that
    /// leaves the rotation. Returns how many were served.
    /// </summary>
    public static int Serve<TLicense>(
        LinkedList<TLicense> rotation,
        int max,
        Func<TLicense, bool> hasQueued,
        Func<TLicense, bool> hasRoom,
        Action<TLicense> takeOne,
        Action<TLicense>? left = null)
    {
        var served = 0;
        var progress = true;
        while (served < max && progress)
        {
            progress = false;
            var node = rotation.First;
            while (node is not null && served < max)
            {
                var next = node.Next;
                var license = node.Value;
                if (!hasQueued(license))
                {
                    rotation.Remove(node);
                    left?.Invoke(license);
                }
                else if (hasRoom(license))
                {
                    takeOne(license);
                    served++;
                    rotation.Remove(node);
                    if (hasQueued(license))
                    {
                        rotation.AddLast(node);
                    }
                    else
                    {
                        left?.Invoke(license);
                    }
                    progress = true;
                }
                node = next;
            }
        }
        return served;
    }
}
