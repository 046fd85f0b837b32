using System.Text;
using System.Text.Json.Nodes;

namespace BookShelf.Grains.Tests;

/// <summary>How a gateway node hands events to its connections when they come faster than a fan-out takes.</summary>
[Collection(ClusterCollection.Name)]
public sealed class GatewayBatchingTests(ClusterFixture fixture)
{
    private static FeedEvent Like(string group, long seq) =>
        new(seq, group, FeedEventKind.LikeChanged, $"like:batch:{seq}", 1, null, "bob", null, 0, (int)seq, DateTimeOffset.UtcNow);

    [Fact]
    public async Task EventsThatQueueUpDuringAFanOutGoOutTogetherInOrder()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(7_000_000_000, 8_000_000_000));
        await using var gateway = fixture.StartGateway(renewEvery: TimeSpan.FromMinutes(10));
        var listener = new StallingListener();
        await using var subscription = await gateway.SubscribeAsync(group, null, listener, TestContext.Current.CancellationToken);
        IGatewayObserver node = gateway;

        // The first event's fan-out stalls inside the listener; four more arrive, one push each, meanwhile. A push
        // returns at once, whatever the fan-out is doing.
        await Task.Run(() => node.OnEventsAsync(group, [Like(group, 1)]), TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        await listener.Stalled.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        foreach (var seq in Enumerable.Range(2, 4))
        {
            await node.OnEventsAsync(group, [Like(group, seq)]).WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        }

        listener.Release();
        await listener.WaitForSeqAsync(5, TimeSpan.FromSeconds(20));

        // Two fan-outs: the first event, then the four that queued, together.
        Assert.Equal([[1L], [2L, 3L, 4L, 5L]], listener.Frames.Select(f => f.Events.Select(e => e.Seq).ToArray()));
    }

    [Fact]
    public void AFramesWireAfterASeqHoldsExactlyTheLaterEventsFrames()
    {
        const string group = "post-42";
        var frame = FeedFrame.Create([Like(group, 7), Like(group, 8), Like(group, 9)]);

        Assert.Equal([7L, 8L, 9L], Seqs(frame.WireAfter(3, out var all)));
        Assert.Equal(3, all);
        Assert.Equal([9L], Seqs(frame.WireAfter(8, out var one)));
        Assert.Equal(1, one);
        Assert.True(frame.WireAfter(9, out var none).IsEmpty);
        Assert.Equal(0, none);
        Assert.Equal(frame.Wire.Length, frame.WireAfter(6, out _).Length);
    }

    /// <summary>The seqs of the unmasked text frames laid end to end in <paramref name="wire"/>.</summary>
    private static List<long> Seqs(ReadOnlyMemory<byte> wire)
    {
        var seqs = new List<long>();
        var bytes = wire.Span;
        while (bytes.Length > 0)
        {
            Assert.Equal(0x81, bytes[0]);
            int length = bytes[1], header = 2;
            if (length == 126)
            {
                length = (bytes[2] << 8) | bytes[3];
                header = 4;
            }

            var json = JsonNode.Parse(Encoding.UTF8.GetString(bytes.Slice(header, length)))!;
            seqs.Add((long)json["seq"]!);
            bytes = bytes[(header + length)..];
        }

        return seqs;
    }

    /// <summary>Records every frame it is handed; stalls inside the first until released.</summary>
    private sealed class StallingListener : IFeedListener
    {
        private readonly Lock _lock = new();
        private readonly List<FeedFrame> _frames = [];
        private readonly ManualResetEventSlim _release = new();
        private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Condition _changed = new();

        public Task Stalled => _stalled.Task;

        public IReadOnlyList<FeedFrame> Frames
        {
            get
            {
                lock (_lock)
                {
                    return [.. _frames];
                }
            }
        }

        public void Release() => _release.Set();

        public Task WaitForSeqAsync(long seq, TimeSpan timeout) =>
            _changed.WaitAsync(() => Frames.Any(f => f.LastSeq >= seq), $"a frame up to seq {seq}", timeout);

        public void OnEvent(FeedFrame frame)
        {
            lock (_lock)
            {
                _frames.Add(frame);
            }

            _changed.Pulse();

            if (_stalled.TrySetResult())
            {
                _release.Wait(TimeSpan.FromSeconds(20));
            }
        }

        public ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken)
        {
            OnEvent(frame);
            return ValueTask.CompletedTask;
        }

        public void OnSubscribed(string group, long lastSeq)
        {
        }

        public void OnReset(string group, long lastSeq)
        {
        }
    }
}
