using QueryStatus.Api.Store.Postgres;

namespace QueryStatus.Api.Tests.Store.Postgres;

/// <summary>
/// The batching of concurrent reads, with a read function the test holds open: which reads go together, in what
/// order, and what each caller gets back.
/// </summary>
public sealed class ReadBatchesTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    /// <summary>A read function that records each batch and answers it when the test releases it.</summary>
    private sealed class HeldReads
    {
        private readonly Lock _gate = new();
        private readonly List<(int[] Batch, TaskCompletionSource Release)> _calls = [];
        private readonly SemaphoreSlim _started = new(0);

        public Exception? Failure { get; set; }

        public async Task<string[]> ReadAsync(IReadOnlyList<int> batch)
        {
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                _calls.Add(([.. batch], release));
            }
            _started.Release();
            await release.Task;
            return Failure is { } failure ? throw failure : [.. batch.Select(n => $"answer {n}")];
        }

        public async Task<int[]> NextBatchAsync()
        {
            Assert.True(await _started.WaitAsync(HangGuard), "no batch was sent");
            lock (_gate)
            {
                return _calls[^1].Batch;
            }
        }

        public void Release(int call)
        {
            lock (_gate)
            {
                _calls[call].Release.SetResult();
            }
        }

        public int Calls
        {
            get
            {
                lock (_gate)
                {
                    return _calls.Count;
                }
            }
        }
    }

    /// <summary>
    /// One read, answered by <paramref name="answer"/> on a thread of its own, as Npgsql's connection read loop answers the
    /// store's statement (continuations inline): the reader's outcome, and whether its continuation ran on the pool.
    /// </summary>
    private static async Task<(Task<string> Read, bool OnPool)> ReadAnsweredByAThreadOfItsOwn(Action<TaskCompletionSource<string[]>> answer)
    {
        var answered = new TaskCompletionSource<string[]>();
        var batches = new ReadBatches<int, string>(_ => answered.Task, maxInFlight: 1, maxBatch: 10);
        var reader = batches.ReadAsync(1, CancellationToken.None).ContinueWith(
            read => (read, Thread.CurrentThread.IsThreadPoolThread), TaskContinuationOptions.ExecuteSynchronously);

        var readLoop = new Thread(() => answer(answered)) { IsBackground = true };
        readLoop.Start();
        Assert.True(readLoop.Join(HangGuard), "the read loop did not get its thread back");
        return await reader.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task AnswersReachTheirReadersOnThePoolNotOnTheThreadThatAnsweredTheRead()
    {
        var (read, onPool) = await ReadAnsweredByAThreadOfItsOwn(answered => answered.SetResult(["answer 1"]));

        Assert.Equal("answer 1", await read);
        Assert.True(onPool, "the reader's continuation ran on the thread that answered the read");
    }

    [Fact]
    public async Task AFailureReachesItsReadersOnThePoolNotOnTheThreadThatAnsweredTheRead()
    {
        var (read, onPool) = await ReadAnsweredByAThreadOfItsOwn(
            answered => answered.SetException(new InvalidOperationException("the database went away")));

        Assert.Equal("the database went away", Assert.IsType<InvalidOperationException>(read.Exception?.InnerException).Message);
        Assert.True(onPool, "the reader's continuation ran on the thread that answered the read");
    }

    [Fact]
    public async Task ALoneReadGoesAtOnceByItself()
    {
        var reads = new HeldReads();
        var batches = new ReadBatches<int, string>(reads.ReadAsync, maxInFlight: 1, maxBatch: 10);

        var answer = batches.ReadAsync(1, CancellationToken.None);

        Assert.Equal(new[] { 1 }, await reads.NextBatchAsync());
        reads.Release(0);
        Assert.Equal("answer 1", await answer.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task ReadsAskedWhileEveryBatchIsOutGoTogetherInOrderOnceOneIsBack()
    {
        var reads = new HeldReads();
        var batches = new ReadBatches<int, string>(reads.ReadAsync, maxInFlight: 2, maxBatch: 10);

        var first = batches.ReadAsync(1, CancellationToken.None);
        Assert.Equal(new[] { 1 }, await reads.NextBatchAsync());
        var second = batches.ReadAsync(2, CancellationToken.None);
        Assert.Equal(new[] { 2 }, await reads.NextBatchAsync());
        var waiting = new[] { 3, 4, 5 }.Select(n => batches.ReadAsync(n, CancellationToken.None)).ToArray();
        Assert.Equal(2, reads.Calls);
        Assert.All(waiting, w => Assert.False(w.IsCompleted));

        reads.Release(1);
        Assert.Equal("answer 2", await second.WaitAsync(HangGuard));
        Assert.Equal(new[] { 3, 4, 5 }, await reads.NextBatchAsync());
        Assert.False(first.IsCompleted);

        reads.Release(2);
        Assert.Equal(new[] { "answer 3", "answer 4", "answer 5" }, await Task.WhenAll(waiting).WaitAsync(HangGuard));
        reads.Release(0);
        Assert.Equal("answer 1", await first.WaitAsync(HangGuard));
        Assert.Equal(3, reads.Calls);
    }

    [Fact]
    public async Task ABatchTakesAtMostMaxBatchReadsAndTheRestGoInTheNext()
    {
        var reads = new HeldReads();
        var batches = new ReadBatches<int, string>(reads.ReadAsync, maxInFlight: 1, maxBatch: 2);

        var first = batches.ReadAsync(0, CancellationToken.None);
        Assert.Equal(new[] { 0 }, await reads.NextBatchAsync());
        var waiting = new[] { 1, 2, 3 }.Select(n => batches.ReadAsync(n, CancellationToken.None)).ToArray();

        reads.Release(0);
        Assert.Equal(new[] { 1, 2 }, await reads.NextBatchAsync());
        reads.Release(1);
        Assert.Equal(new[] { 3 }, await reads.NextBatchAsync());
        reads.Release(2);

        Assert.Equal(new[] { "answer 0", "answer 1", "answer 2", "answer 3" }, await Task.WhenAll([first, .. waiting]).WaitAsync(HangGuard));
    }

    [Fact]
    public async Task EqualReadsInABatchAreAskedOnceAndEachCallerGetsTheAnswer()
    {
        var reads = new HeldReads();
        var batches = new ReadBatches<int, string>(reads.ReadAsync, maxInFlight: 1, maxBatch: 10);

        var first = batches.ReadAsync(7, CancellationToken.None);
        Assert.Equal(new[] { 7 }, await reads.NextBatchAsync());
        var waiting = new[] { 3, 7, 3, 5, 7 }.Select(n => batches.ReadAsync(n, CancellationToken.None)).ToArray();
        reads.Release(0);

        Assert.Equal(new[] { 3, 7, 5 }, await reads.NextBatchAsync());
        reads.Release(1);
        Assert.Equal(new[] { "answer 3", "answer 7", "answer 3", "answer 5", "answer 7" }, await Task.WhenAll(waiting).WaitAsync(HangGuard));
        Assert.Equal("answer 7", await first.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task AFailedBatchFailsItsReadsAndThoseWaitingForItAndTheNextReadStillGoes()
    {
        var reads = new HeldReads { Failure = new InvalidOperationException("the database went away") };
        var batches = new ReadBatches<int, string>(reads.ReadAsync, maxInFlight: 1, maxBatch: 10);

        var first = batches.ReadAsync(1, CancellationToken.None);
        await reads.NextBatchAsync();
        var waiting = new[] { 2, 3 }.Select(n => batches.ReadAsync(n, CancellationToken.None)).ToArray();
        reads.Release(0);

        foreach (var read in (Task<string>[])[first, .. waiting])
        {
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => read.WaitAsync(HangGuard));
            Assert.Equal("the database went away", failure.Message);
        }
        Assert.Equal(1, reads.Calls);

        reads.Failure = null;
        var later = batches.ReadAsync(4, CancellationToken.None);
        Assert.Equal(new[] { 4 }, await reads.NextBatchAsync());
        reads.Release(1);
        Assert.Equal("answer 4", await later.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task ACallerThatGivesUpIsAnsweredWithCancellationAndTheOthersGetTheirAnswers()
    {
        var reads = new HeldReads();
        var batches = new ReadBatches<int, string>(reads.ReadAsync, maxInFlight: 1, maxBatch: 10);
        using var giveUp = new CancellationTokenSource();

        var first = batches.ReadAsync(1, CancellationToken.None);
        await reads.NextBatchAsync();
        var abandoned = batches.ReadAsync(2, giveUp.Token);
        var kept = batches.ReadAsync(3, CancellationToken.None);
        giveUp.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned.WaitAsync(HangGuard));
        reads.Release(0);
        Assert.Equal(new[] { 2, 3 }, await reads.NextBatchAsync());
        reads.Release(1);
        Assert.Equal("answer 1", await first.WaitAsync(HangGuard));
        Assert.Equal("answer 3", await kept.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task AfterTheLastBatchIsBackTheNextReadGoesAtOnceAgain()
    {
        var reads = new HeldReads();
        var batches = new ReadBatches<int, string>(reads.ReadAsync, maxInFlight: 1, maxBatch: 10);

        var first = batches.ReadAsync(1, CancellationToken.None);
        await reads.NextBatchAsync();
        reads.Release(0);
        Assert.Equal("answer 1", await first.WaitAsync(HangGuard));

        // The sender gives its place back once nothing waits (whether this read meets it just before that or after).
        var later = batches.ReadAsync(2, CancellationToken.None);
        Assert.Equal(new[] { 2 }, await reads.NextBatchAsync());
        reads.Release(1);
        Assert.Equal("answer 2", await later.WaitAsync(HangGuard));
    }
}
