namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// Gathers concurrent reads into batches, each answered by one call of <c>read</c> (one statement): a read that finds
/// fewer than <c>maxInFlight</c> batches on their way goes at once, alone; one that finds them all busy waits for the
/// next batch, which leaves as soon as one of them is back and its readers have their answers, with every read that
/// waited meanwhile (at most <c>maxBatch</c>). Nothing waits on a timer: a lone read costs what it cost before, and the
/// busier the store, the more reads share each statement. Reads of a batch equal to one another (<typeparamref name="TRequest"/>'s equality)
/// are asked once and share that answer, so a batch costs the database what its distinct reads cost.
/// </summary>
/// <remarks>
/// Every batch is sent after each of its reads was asked for, so a read sees every write acknowledged before it was
/// asked (what a read of its own would see). A read whose caller gives up still goes with its batch; its answer is
/// dropped. <c>read</c> answers every request of its batch in order, or throws for all of them, and then for every read
/// that was waiting as well. An answer shared by equal reads goes to each of their callers, so it must be a value that
/// nothing changes afterwards.
/// <para>
/// Where the answers are given: a batch's answer moves to the thread pool once (never onward on the thread that answered
/// <c>read</c>, which for the store is Npgsql's connection read loop), and there each reader's continuation runs in turn,
/// up to its first wait, before the next batch leaves. Against one pool work item per reader, that spends one hop per
/// batch instead of one per poll, and the reads that arrive meanwhile go in fewer, larger batches: status polls on
/// PostgreSQL, two instances side by side on one database, 8 pairs with each build on each side: req/s 1.066× and
/// 1.036×, the service's CPU per poll 0.96× and 0.98×, PostgreSQL's 0.83× and 0.90× (one build against itself read
/// 1.038× req/s; bench/RESULTS.md, twentieth session).
/// </para>
/// </remarks>
public sealed class ReadBatches<TRequest, TResult>(
    Func<IReadOnlyList<TRequest>, Task<TResult[]>> read, int maxInFlight, int maxBatch)
    where TRequest : notnull
{
    private readonly Lock _gate = new();
    private readonly Queue<Pending> _waiting = new();
    private int _inFlight;

    public Task<TResult> ReadAsync(TRequest request, CancellationToken cancellationToken)
    {
        var pending = new Pending(request);
        bool lead;
        lock (_gate)
        {
            lead = _inFlight < maxInFlight;
            if (lead)
            {
                _inFlight++;
            }
            else
            {
                _waiting.Enqueue(pending);
            }
        }
        if (lead)
        {
            _ = SendAsync([pending]);
        }
        return cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task;
    }

    /// <summary>Sends the batch, then the reads that waited meanwhile, until none is left.</summary>
    private async Task SendAsync(List<Pending> batch)
    {
        while (true)
        {
            Exception? failure = null;
            try
            {
                var (requests, answers) = Distinct(batch);
                var reading = read(requests);
                // Off the thread that answers (see the remarks), onto the pool, once for the whole batch, whether it was
                // answered or failed; then the finished read gives its answer or throws its failure here.
                await ((Task)reading).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await Task.Yield();
                var results = await reading;
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].TrySetResult(results[answers[i]]);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }

            lock (_gate)
            {
                if (failure is not null)
                {
                    // The reads that waited for this batch share its fate: with the database unreachable, each batch
                    // after it would wait out the connect timeout in turn, and the last reads would wait for them all.
                    batch.AddRange(_waiting);
                    _waiting.Clear();
                }
                if (_waiting.Count == 0)
                {
                    _inFlight--;
                }
                else
                {
                    batch = new List<Pending>(Math.Min(_waiting.Count, maxBatch));
                    while (batch.Count < maxBatch && _waiting.TryDequeue(out var next))
                    {
                        batch.Add(next);
                    }
                    continue;
                }
            }
            if (failure is not null)
            {
                foreach (var pending in batch)
                {
                    pending.TrySetException(failure);
                }
            }
            return;
        }
    }

    /// <summary>The batch's distinct requests, in the order first asked, and for each read the index of its answer.</summary>
    private static (List<TRequest> Requests, int[] Answers) Distinct(List<Pending> batch)
    {
        var requests = new List<TRequest>(batch.Count);
        var answers = new int[batch.Count];
        if (batch.Count == 1)
        {
            requests.Add(batch[0].Request);
            return (requests, answers);
        }
        var asked = new Dictionary<TRequest, int>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            if (!asked.TryGetValue(batch[i].Request, out answers[i]))
            {
                asked.Add(batch[i].Request, answers[i] = requests.Count);
                requests.Add(batch[i].Request);
            }
        }
        return (requests, answers);
    }

    /// <summary>A read and its answer; its continuation runs where the answer is set (see the remarks above).</summary>
    private sealed class Pending(TRequest request) : TaskCompletionSource<TResult>
    {
        public TRequest Request { get; } = request;
    }
}
