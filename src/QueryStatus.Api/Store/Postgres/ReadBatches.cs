namespace QueryStatus.Api.Store.Postgres;

/// <summary>
/// Gathers concurrent reads into batches, each answered by one call of <c>read</c> (one statement): a read that finds
/// fewer than <c>maxInFlight</c> batches on their way goes at once, alone; one that finds them all busy waits for the
/// next batch, which leaves as soon as one of them is back, with every read that waited meanwhile (at most
/// <c>maxBatch</c>). Nothing waits on a timer: a lone read costs what it cost before, and the busier the store, the
/// more reads share each statement.
/// </summary>
/// <remarks>
/// Every batch is sent after each of its reads was asked for, so a read sees every write acknowledged before it was
/// asked (what a read of its own would see). A read whose caller gives up still goes with its batch; its answer is
/// dropped. <c>read</c> answers every request of its batch in order, or throws for all of them, and then for every read
/// that was waiting as well.
/// </remarks>
public sealed class ReadBatches<TRequest, TResult>(
    Func<IReadOnlyList<TRequest>, Task<TResult[]>> read, int maxInFlight, int maxBatch)
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
                var requests = new TRequest[batch.Count];
                for (var i = 0; i < requests.Length; i++)
                {
                    requests[i] = batch[i].Request;
                }
                var results = await read(requests);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].TrySetResult(results[i]);
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

    /// <summary>A read and its answer; continuations run on the thread pool, not on the loop that sends the batches.</summary>
    private sealed class Pending(TRequest request) : TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public TRequest Request { get; } = request;
    }
}
