using BookShelf.Gateway.Feed;
using BookShelf.Grains.Interfaces;
using BookShelf.Grains.Interfaces.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BookShelf.Gateway.Tests;

/// <summary>The gateway feed's parts without a cluster: ordering and gap detection, and delivery.</summary>
public sealed class GatewayFeedPartsTests
{
    private static FeedEvent Event(long seq) => FeedEvent.PostCreated(seq, $"post {seq}", "alice", DateTimeOffset.UnixEpoch) with { Seq = seq };

    [Fact]
    public void RepeatsAreDroppedAndEarlyEventsWaitForTheGap()
    {
        var sequence = new GroupSequencer();
        sequence.Restart(10);
        sequence.Offer([Event(9), Event(10), Event(12), Event(13)]);

        Assert.Null(sequence.TakeNext(64));
        Assert.Equal(13, sequence.GapUpTo);
        Assert.Equal(2, sequence.Held);

        sequence.Offer([Event(11), Event(12)]);
        Assert.Equal([11L, 12, 13], sequence.TakeNext(64)!.Select(e => e.Seq));
        Assert.Equal(13, sequence.Last);
        Assert.Null(sequence.GapUpTo);
        sequence.Offer([Event(13)]);
        Assert.Null(sequence.TakeNext(64));
    }

    [Fact]
    public void RunsAreCutAtTheBatchSize()
    {
        var sequence = new GroupSequencer();
        sequence.Offer(Enumerable.Range(1, 5).Select(n => Event(n)));
        Assert.Equal([1L, 2], sequence.TakeNext(2)!.Select(e => e.Seq));
        Assert.Equal([3L, 4], sequence.TakeNext(2)!.Select(e => e.Seq));
        Assert.Equal([5L], sequence.TakeNext(2)!.Select(e => e.Seq));
        Assert.Null(sequence.TakeNext(2));
    }

    [Fact]
    public void SkippingPastAResetDropsWhatWasHeldBeforeIt()
    {
        var sequence = new GroupSequencer();
        sequence.Offer([Event(3), Event(7)]);
        sequence.SkipTo(5);
        Assert.Equal(5, sequence.Last);
        Assert.Equal(1, sequence.Held);
        Assert.Equal(7, sequence.GapUpTo);
    }

    [Fact]
    public async Task EveryListenerGetsEveryFrameOnceAndACatchingUpOneHasItHeld()
    {
        var listeners = new GroupListeners(Groups.Site, fanOut: null, metrics: null, new FakeTimeProvider(), NullLogger.Instance);
        var live = new FeedSlot(new CountingListener());
        var resuming = new FeedSlot(new CountingListener()) { CatchingUp = true };
        var leaving = new FeedSlot(new CountingListener());
        listeners.Add(live);
        listeners.Add(resuming);
        listeners.Add(leaving);
        Assert.True(listeners.Remove(leaving));
        Assert.False(listeners.Remove(leaving));

        await listeners.DeliverAsync([Event(1), Event(2)]);

        Assert.Equal([1L, 2], ((CountingListener)live.Listener).Seqs);
        Assert.Empty(((CountingListener)resuming.Listener).Seqs);
        Assert.Equal(2, Assert.Single(resuming.Held).LastSeq);
        Assert.Empty(((CountingListener)leaving.Listener).Seqs);
        Assert.Equal(2, listeners.Count);
    }

    private sealed class CountingListener : IFeedListener
    {
        public List<long> Seqs { get; } = [];

        public List<long> Resets { get; } = [];

        public void OnEvent(FeedFrame frame) => Seqs.AddRange(frame.Events.Select(e => e.Seq));

        public ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken)
        {
            OnEvent(frame);
            return ValueTask.CompletedTask;
        }

        public void OnSubscribed(string group, long lastSeq)
        {
        }

        public void OnReset(string group, long lastSeq) => Resets.Add(lastSeq);
    }
}
