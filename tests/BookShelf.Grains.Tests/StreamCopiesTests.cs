using System.Diagnostics.Metrics;
using BookShelf.Grains.Feed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BookShelf.Grains.Tests;

/// <summary>
/// The silo's <see cref="StreamCopies"/>: a group's stream copies are gathered for the delay and go as one batch, in
/// order, off the caller's path. The clock is a fake one that counts the delays started, so each step waits on a
/// condition, never on time.
/// </summary>
public sealed class StreamCopiesTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task CopiesOfAGroupWithinTheDelayGoTogetherInOrderAndEachGroupAlone()
    {
        var (copies, clock, published) = Start();

        copies.Publish([Event("a", 1), Event("a", 2), Event("b", 3)]);
        copies.Publish([Event("a", 4)]);
        await clock.WaitForDelaysAsync(2);
        Assert.Empty(published.Batches);

        clock.Advance(Delay);
        await Poll.UntilAsync(() => Task.FromResult(published.Batches.Count == 2), Timeout, "both groups' batches", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(["post:1", "post:2", "post:4"], published.Of("a").Single().Select(e => e.Key));
        Assert.Equal(["post:3"], published.Of("b").Single().Select(e => e.Key));
    }

    [Fact]
    public async Task CopiesThatComeDuringAPublishWaitForTheNextDelayAndGoTogether()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (copies, clock, published) = Start(async (_, _) => await release.Task);

        copies.Publish([Event("a", 1)]);
        await clock.WaitForDelaysAsync(1);
        clock.Advance(Delay);
        await Poll.UntilAsync(() => Task.FromResult(published.Batches.Count == 1), Timeout, "the first batch under way", cancellationToken: TestContext.Current.CancellationToken);
        copies.Publish([Event("a", 2)]);
        copies.Publish([Event("a", 3)]);
        release.SetResult();

        // The flusher starts its next delay instead of publishing what came meanwhile at once, one by one.
        await clock.WaitForDelaysAsync(2);
        Assert.Single(published.Batches);
        clock.Advance(Delay);
        await Poll.UntilAsync(() => Task.FromResult(published.Batches.Count == 2), Timeout, "the second batch", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(["post:2", "post:3"], published.Batches[1].Events.Select(e => e.Key));
    }

    [Fact]
    public async Task AFailedPublishDropsOnlyItsBatchAndTheGroupGoesOn()
    {
        var calls = 0;
        var (copies, clock, published) = Start((_, _) => Interlocked.Increment(ref calls) == 1 ? Task.FromException(new TimeoutException("queue")) : Task.CompletedTask);

        copies.Publish([Event("a", 1)]);
        await clock.WaitForDelaysAsync(1);
        clock.Advance(Delay);
        await Poll.UntilAsync(() => Task.FromResult(published.Batches.Count == 1), Timeout, "the failed batch", cancellationToken: TestContext.Current.CancellationToken);

        copies.Publish([Event("a", 2)]);
        await Poll.UntilAsync(() =>
        {
            clock.Advance(Delay);
            return Task.FromResult(published.Batches.Count == 2);
        }, Timeout, "the next batch", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(["post:2"], published.Batches[1].Events.Select(e => e.Key));
    }

    [Fact]
    public async Task WithNoDelayCopiesFromManyThreadsAllGoInTheirOrderAndOneBatchAtATime()
    {
        const int Threads = 4, PerThread = 500;
        var inFlight = 0;
        var overlapped = 0;
        var (copies, _, published) = Start(async (_, _) =>
        {
            if (Interlocked.Increment(ref inFlight) > 1)
            {
                Interlocked.Exchange(ref overlapped, 1);
            }

            await Task.Yield();
            Interlocked.Decrement(ref inFlight);
        }, TimeSpan.Zero);

        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                copies.Publish([Event("a", (t * 10_000) + i)]);
            }
        })));
        await Poll.UntilAsync(() => Task.FromResult(published.Batches.Sum(b => b.Events.Count) == Threads * PerThread), Timeout,
            "every copy", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(0, Volatile.Read(ref overlapped));
        var ids = published.Batches.SelectMany(b => b.Events).Select(e => e.PostId).ToList();
        for (var t = 0; t < Threads; t++)
        {
            Assert.Equal(Enumerable.Range(0, PerThread).Select(i => (long)((t * 10_000) + i)), ids.Where(id => id / 10_000 == t));
        }
    }

    [Fact]
    public async Task AtMostMaxPendingCopiesWaitAndTheRestAreDroppedAndCounted()
    {
        var (copies, clock, published) = Start();
        long dropped = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == published.MeterFactory && instrument.Name == "bookshelf.feed.stream_copies_dropped")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref dropped, value));
        listener.Start();

        copies.Publish([.. Enumerable.Range(1, StreamCopies.MaxPending + 5).Select(i => Event("a", i))]);
        await Poll.UntilAsync(() =>
        {
            clock.Advance(Delay);
            return Task.FromResult(published.Batches.Sum(b => b.Events.Count) >= StreamCopies.MaxPending);
        }, Timeout, "every copy that was taken", cancellationToken: TestContext.Current.CancellationToken);

        var keys = published.Batches.SelectMany(b => b.Events).Select(e => e.PostId).ToList();
        Assert.Equal(Enumerable.Range(1, StreamCopies.MaxPending).Select(i => (long)i), keys);
        Assert.All(published.Batches, b => Assert.InRange(b.Events.Count, 1, FeedAppender.MaxBatch));
        Assert.Equal(5, Interlocked.Read(ref dropped));

        // Taken copies no longer count: the next one goes.
        copies.Publish([Event("a", 0)]);
        await Poll.UntilAsync(() =>
        {
            clock.Advance(Delay);
            return Task.FromResult(published.Batches.Last().Events.Last().PostId == 0);
        }, Timeout, "a copy after the flood", cancellationToken: TestContext.Current.CancellationToken);
    }

    private static (StreamCopies Copies, DelayCountingClock Clock, Published Published) Start(Func<string, IReadOnlyList<FeedEvent>, Task>? publish = null, TimeSpan? delay = null)
    {
        var clock = new DelayCountingClock();
        var published = new Published();
        var copies = new StreamCopies(
            (group, events) =>
            {
                published.Add(group, events);
                return publish?.Invoke(group, events) ?? Task.CompletedTask;
            },
            Microsoft.Extensions.Options.Options.Create(new FeedOptions { StreamCopyDelay = delay ?? Delay }),
            clock,
            new Diagnostics.FeedMetrics(published.MeterFactory),
            NullLogger<StreamCopies>.Instance);
        return (copies, clock, published);
    }

    private static FeedEvent Event(string group, long postId) =>
        FeedEvent.PostCreated(postId, $"post {postId}", "alice", DateTimeOffset.UtcNow) with { Group = group };

    private sealed class Published
    {
        private readonly List<(string Group, IReadOnlyList<FeedEvent> Events)> _batches = [];

        /// <summary>This test's own meter factory: its instruments are told apart from other tests' by their scope.</summary>
        public IMeterFactory MeterFactory { get; } = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

        public IReadOnlyList<(string Group, IReadOnlyList<FeedEvent> Events)> Batches
        {
            get
            {
                lock (_batches)
                {
                    return [.. _batches];
                }
            }
        }

        public void Add(string group, IReadOnlyList<FeedEvent> events)
        {
            lock (_batches)
            {
                _batches.Add((group, [.. events]));
            }
        }

        public IEnumerable<IReadOnlyList<FeedEvent>> Of(string group) => Batches.Where(b => b.Group == group).Select(b => b.Events);
    }

    /// <summary>A fake clock that counts the timers registered on it (each delay of a flusher is one).</summary>
    private sealed class DelayCountingClock : FakeTimeProvider
    {
        private int _timers;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            // Counted once the timer is registered: a test that saw the count and then advances the clock fires it.
            var timer = base.CreateTimer(callback, state, dueTime, period);
            Interlocked.Increment(ref _timers);
            return timer;
        }

        public Task WaitForDelaysAsync(int count) =>
            Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref _timers) >= count), Timeout, $"{count} delay(s) started", cancellationToken: TestContext.Current.CancellationToken);
    }
}
