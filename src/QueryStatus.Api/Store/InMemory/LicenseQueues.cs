namespace QueryStatus.Api.Store.InMemory;

/// <summary>
/// Decides which task runs next. Each license has its own queue so that one license's burst cannot starve another:
/// licenses with waiting tasks are served in turn (round robin), each up to its own concurrency limit, and a task leaves
/// its queue only through <see cref="Take"/>, which is where both rules are applied. A license exists here exactly as
/// long as it has runs in the store, so nothing keeps an idle license's queue.
/// </summary>
/// <remarks>The queue and running counters a status shows are the sizes of these collections, never stored apart.</remarks>
internal sealed class LicenseQueues(SchedulerOptions scheduler, LicensesOptions limits)
{
    private readonly Dictionary<string, LicenseQueue> _licenses = new(StringComparer.Ordinal);

    /// <summary>Licenses with queued tasks, in the order they are next served (round robin).</summary>
    private readonly LinkedList<LicenseQueue> _rotation = new();

    /// <summary>Licenses with runs in the store.</summary>
    public int Count => _licenses.Count;

    public Dictionary<string, LicenseQueue>.ValueCollection All => _licenses.Values;

    /// <summary>The queue of <paramref name="licenseId"/> for one more run, made on the license's first.</summary>
    public LicenseQueue Join(string licenseId)
    {
        if (!_licenses.TryGetValue(licenseId, out var license))
        {
            license = new LicenseQueue(licenseId);
            _licenses[licenseId] = license;
        }
        license.Runs++;
        return license;
    }

    /// <summary>One run of the license is gone; with its last, the license goes.</summary>
    public void Leave(LicenseQueue license)
    {
        // A finished run has nothing queued or running, so a license without runs has an empty queue: it goes too.
        if (--license.Runs == 0)
        {
            if (license.InRotation)
            {
                _rotation.Remove(license.RotationNode);
                license.InRotation = false;
            }
            _licenses.Remove(license.Id);
        }
    }

    /// <summary>Queues a task: at the back when new, at the front when it goes back for another attempt.</summary>
    public void Enqueue(WorkItem item, bool atFront)
    {
        var license = item.Run.License;
        item.State = ItemState.Queued;
        if (atFront)
        {
            license.Queued.AddFirst(item.QueueNode);
        }
        else
        {
            license.Queued.AddLast(item.QueueNode);
        }
        if (!license.InRotation)
        {
            _rotation.AddLast(license.RotationNode);
            license.InRotation = true;
        }
    }

    /// <summary>Takes a queued task out of its queue without running it (its run ended).</summary>
    public void Withdraw(WorkItem item) => item.Run.License.Queued.Remove(item.QueueNode);

    /// <summary>
    /// Moves up to <paramref name="max"/> queued tasks into their licenses' running sets, into <paramref name="taken"/>
    /// in the order they were chosen. The caller gives each its lease.
    /// </summary>
    public void Take(int max, List<WorkItem> taken) =>
        LeaseRotation.Serve(
            _rotation,
            max,
            static license => license.Queued.Count > 0,
            license => license.Running.Count < MaxConcurrent(license.Id),
            license =>
            {
                var item = license.Queued.First!.Value;
                license.Queued.RemoveFirst();
                StartRunning(item);
                taken.Add(item);
            },
            static license => license.InRotation = false);

    /// <summary>Counts a task against its license's limit: from when it is taken until its lease ends.</summary>
    public void StartRunning(WorkItem item) => item.Run.License.Running.Add(item);

    public void StopRunning(WorkItem item) => item.Run.License.Running.Remove(item);

    private int MaxConcurrent(string licenseId) => LeaseRotation.MaxConcurrent(licenseId, scheduler, limits);
}

/// <summary>One license's waiting and running tasks, and its place in the round robin.</summary>
internal sealed class LicenseQueue
{
    public LicenseQueue(string id)
    {
        Id = id;
        RotationNode = new LinkedListNode<LicenseQueue>(this);
    }

    public string Id { get; }
    public LinkedList<WorkItem> Queued { get; } = new();
    public HashSet<WorkItem> Running { get; } = [];
    public LinkedListNode<LicenseQueue> RotationNode { get; }
    public bool InRotation { get; set; }

    /// <summary>Runs of this license in the store, finished ones included.</summary>
    public int Runs { get; set; }
}
