using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace QueryStatus.Worker;

/// <summary>
/// One leased task while it runs: the <see cref="IRowSink"/> its handler fills, which sends full batches numbered
/// 0, 1, 2, ... under the lease; the heartbeat that renews the lease; the completion or failure at the end. A refused
/// call (409: the lease is gone; 404: the task is) marks the lease lost and cancels the handler.
/// </summary>
internal sealed class TaskRun(LeasedTask leased, TaskApiClient api, QueryStatusWorkerOptions options, CancellationTokenSource cancellation, ILogger logger)
    : IRowSink
{
    /// <summary>What the service accepts in one completion.</summary>
    public const int MaxSubQueries = 10_000;

    private readonly JsonValueList _rows = new();
    private readonly JsonValueList _subQueries = new();
    private long _nextBatch;
    private long _rowCount;
    private bool _sealed;
    private const int Idle = 0, Beating = 1, BeatingAndAskedAgain = 2;
    private int _beat;
    private volatile bool _leaseLost;

    public WorkerTask Task => leased.Task;

    public bool LeaseLost => _leaseLost;

    public long RowCount => _rowCount;

    /// <summary>Batches sent with the rows call (the completion's rows not counted).</summary>
    public long BatchesSent => _nextBatch;

    public ValueTask AddAsync(JsonElement row, CancellationToken cancellationToken = default)
    {
        ThrowIfSealed();
        if (row.ValueKind == JsonValueKind.Undefined)
        {
            throw new ArgumentException("The row is an undefined JsonElement.", nameof(row));
        }
        if (NeedsFlushBefore(JsonMarshal.GetRawUtf8Value(row).Length))
        {
            return AddAfterFlushAsync(row, cancellationToken);
        }
        _rows.Add(JsonMarshal.GetRawUtf8Value(row));
        return AfterAdd(cancellationToken);
    }

    public ValueTask AddRawAsync(ReadOnlyMemory<byte> utf8Json, CancellationToken cancellationToken = default)
    {
        ThrowIfSealed();
        JsonValueList.EnsureOneValue(utf8Json.Span, nameof(utf8Json));
        if (NeedsFlushBefore(utf8Json.Length))
        {
            return AddRawAfterFlushAsync(utf8Json, cancellationToken);
        }
        _rows.Add(utf8Json.Span);
        return AfterAdd(cancellationToken);
    }

    public void AddSubQuery(JsonElement payload)
    {
        ThrowIfSealed();
        if (payload.ValueKind == JsonValueKind.Undefined)
        {
            throw new ArgumentException("The sub-query is an undefined JsonElement.", nameof(payload));
        }
        EnsureRoomForSubQuery();
        _subQueries.Add(JsonMarshal.GetRawUtf8Value(payload));
    }

    public void AddRawSubQuery(ReadOnlyMemory<byte> utf8Json)
    {
        ThrowIfSealed();
        JsonValueList.EnsureOneValue(utf8Json.Span, nameof(utf8Json));
        EnsureRoomForSubQuery();
        _subQueries.Add(utf8Json.Span);
    }

    /// <summary>The handler has returned: no more rows; what is left goes with the completion.</summary>
    public void Seal() => _sealed = true;

    /// <summary>Completes the task with the rows not yet sent and the new sub-queries.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (_leaseLost || await api.CompleteAsync(leased, _rows, _subQueries, cancellationToken) == TaskCallOutcome.LeaseLost)
        {
            throw MarkLeaseLost();
        }
    }

    /// <summary>Reports the failure; the rows staged so far are discarded by the service.</summary>
    public Task<TaskCallOutcome> FailAsync(string code, string message, bool retryable, CancellationToken cancellationToken) =>
        api.FailAsync(leased, code, message, retryable, cancellationToken);

    /// <summary>
    /// The heartbeat timer's tick: renews the lease. A tick while a renewal is under way asks for one more right after
    /// it (never more than one waiting), so a slow answer costs no heartbeat and piles none up.
    /// </summary>
    public void Beat()
    {
        while (!_leaseLost)
        {
            switch (Volatile.Read(ref _beat))
            {
                case Idle when Interlocked.CompareExchange(ref _beat, Beating, Idle) == Idle:
                    _ = BeatAsync();
                    return;
                case Beating when Interlocked.CompareExchange(ref _beat, BeatingAndAskedAgain, Beating) == Beating:
                    return;
                case BeatingAndAskedAgain:
                    return;
            }
        }
    }

    private async Task BeatAsync()
    {
        while (true)
        {
            await RenewLeaseAsync();
            if (_leaseLost || Interlocked.CompareExchange(ref _beat, Idle, Beating) == Beating)
            {
                if (_leaseLost)
                {
                    Volatile.Write(ref _beat, Idle);
                }
                return;
            }
            Volatile.Write(ref _beat, Beating); // a tick came during the renewal: renew once more
        }
    }

    private async Task RenewLeaseAsync()
    {
        try
        {
            if (await api.HeartbeatAsync(leased, cancellation.Token) == TaskCallOutcome.LeaseLost)
            {
                MarkLeaseLost();
            }
            else
            {
                logger.LogDebug("Renewed the lease of task {TaskId} for {LeaseSeconds} s", leased.Task.TaskId, options.LeaseSeconds);
            }
        }
        catch (OperationCanceledException)
        {
            // The task ended or was abandoned.
        }
        catch (ObjectDisposedException)
        {
            // The task ended while the heartbeat was starting.
        }
        catch (Exception e)
        {
            logger.LogWarning("Could not renew the lease of task {TaskId} ({Error}: {Message}); trying again at the next heartbeat",
                leased.Task.TaskId, e.GetType().Name, e.Message);
        }
    }

    private Exception MarkLeaseLost()
    {
        _leaseLost = true;
        try
        {
            cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The task already ended.
        }
        return new OperationCanceledException("The task's lease was lost.", cancellation.Token);
    }

    private bool NeedsFlushBefore(int rowBytes) =>
        _rows.Count > 0 && _rows.ArrayBytes + 1 + rowBytes > options.BatchBytes;

    private async ValueTask AddAfterFlushAsync(JsonElement row, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        _rows.Add(JsonMarshal.GetRawUtf8Value(row));
        await AfterAdd(cancellationToken);
    }

    private async ValueTask AddRawAfterFlushAsync(ReadOnlyMemory<byte> utf8Json, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        _rows.Add(utf8Json.Span);
        await AfterAdd(cancellationToken);
    }

    private ValueTask AfterAdd(CancellationToken cancellationToken)
    {
        _rowCount++;
        return _rows.Count >= options.BatchRows || _rows.ArrayBytes >= options.BatchBytes
            ? FlushAsync(cancellationToken)
            : ValueTask.CompletedTask;
    }

    /// <summary>Sends the rows held as the next batch; waits for the answer (back-pressure).</summary>
    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_leaseLost)
        {
            throw MarkLeaseLost();
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation.Token, cancellationToken);
        if (await api.RowsAsync(leased, _nextBatch, _rows, linked.Token) == TaskCallOutcome.LeaseLost)
        {
            throw MarkLeaseLost();
        }
        logger.LogDebug("Sent batch {Batch} of task {TaskId}: {Rows} rows", _nextBatch, leased.Task.TaskId, _rows.Count);
        _nextBatch++;
        _rows.Clear();
    }

    private void EnsureRoomForSubQuery()
    {
        if (_subQueries.Count >= MaxSubQueries)
        {
            throw new InvalidOperationException($"A task may add at most {MaxSubQueries} sub-queries.");
        }
    }

    private void ThrowIfSealed()
    {
        if (_sealed)
        {
            throw new InvalidOperationException("The task's handler has returned; its row sink takes nothing more.");
        }
    }
}
