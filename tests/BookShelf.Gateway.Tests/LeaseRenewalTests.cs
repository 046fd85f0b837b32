using System.Reflection;
using BookShelf.Gateway.Feed;
using BookShelf.Grains.Interfaces;
using BookShelf.Grains.Interfaces.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace BookShelf.Gateway.Tests;

/// <summary>Many groups' leases are renewed side by side: one slow pass over them cannot outlast a lease.</summary>
public sealed class LeaseRenewalTests
{
    [Fact]
    public async Task LeasesOfManyGroupsAreRenewedSideBySide()
    {
        var updaters = new SlowUpdaters(TimeSpan.FromMilliseconds(100));
        var grains = GrainFactoryOf(updaters);
        await using var feed = new GatewayFeed(grains, Microsoft.Extensions.Options.Options.Create(new GatewayFeedOptions { RenewInterval = TimeSpan.FromMinutes(10) }), TimeProvider.System, NullLogger<GatewayFeed>.Instance);
        feed.Start();
        var subscriptions = new List<IAsyncDisposable>();
        for (var i = 1; i <= 40; i++)
        {
            subscriptions.Add(await feed.SubscribeAsync(Groups.ForPost(i), null, new NoListener(), TestContext.Current.CancellationToken));
        }

        updaters.ResetConcurrency();
        await feed.RenewAllAsync(TestContext.Current.CancellationToken);

        // One after another (as before) is 40 x 100 ms = 4 s for one pass, and 10,000 groups would take 17 minutes.
        Assert.Equal(80, updaters.Calls);
        Assert.True(updaters.MaxConcurrent >= 8, $"renewals ran {updaters.MaxConcurrent} at a time");
        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }
    }

    [Fact]
    public async Task RenewalsGoOnAfterTheClusterCancelsOne()
    {
        // Orleans answers a request that expired before a silo could place it (the lab's silo cut from Redis could
        // not reach its membership table) with an OperationCanceledException. That is one failed renewal, not this
        // node stopping: before, it ended the renewal loop, the lease ran out and the node's clients got nothing more.
        var updaters = new SlowUpdaters(TimeSpan.Zero);
        await using var feed = new GatewayFeed(GrainFactoryOf(updaters), Microsoft.Extensions.Options.Options.Create(new GatewayFeedOptions { RenewInterval = TimeSpan.FromMilliseconds(50) }), TimeProvider.System, NullLogger<GatewayFeed>.Instance);
        feed.Start();
        await using var subscription = await feed.SubscribeAsync(Groups.Site, null, new NoListener(), TestContext.Current.CancellationToken);

        updaters.FailNext(new OperationCanceledException("Message expired before placement could complete for grain updater/site."));
        await Poll.UntilAsync(() => Task.FromResult(updaters.FailedAtCall > 0 && updaters.Calls >= updaters.FailedAtCall + 3), TimeSpan.FromSeconds(10), "three renewals after the cancelled one", cancellationToken: TestContext.Current.CancellationToken);
    }

    private static IGrainFactory GrainFactoryOf(SlowUpdaters updaters)
    {
        var factory = DispatchProxy.Create<IGrainFactory, FactoryProxy>();
        ((FactoryProxy)(object)factory).Updaters = updaters;
        return factory;
    }

    /// <summary>A grain factory that hands out the slow updater, and the feed itself as its own observer reference.</summary>
    public class FactoryProxy : DispatchProxy
    {
        internal SlowUpdaters Updaters { get; set; } = null!;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            "GetGrain" => Updaters,
            "CreateObjectReference" => args![0],
            "DeleteObjectReference" => null,
            _ => throw new NotSupportedException(targetMethod?.Name),
        };
    }

    /// <summary>An updater whose every call takes a while, counting how many run at once.</summary>
    internal sealed class SlowUpdaters(TimeSpan delay) : IUpdaterGrain
    {
        private int _inFlight;
        private int _calls;
        private Exception? _failNext;

        public int MaxConcurrent { get; private set; }

        public int Calls => _calls;

        /// <summary>The call that threw the exception given to <see cref="FailNext"/> (0 before).</summary>
        public int FailedAtCall { get; private set; }

        public void ResetConcurrency() => MaxConcurrent = 0;

        /// <summary>The next <see cref="SubscribeAsync"/> throws <paramref name="failure"/>.</summary>
        public void FailNext(Exception failure) => _failNext = failure;

        public async Task<long> SubscribeAsync(IGatewayObserver observer)
        {
            var call = Interlocked.Increment(ref _calls);
            if (Interlocked.Exchange(ref _failNext, null) is { } failure)
            {
                FailedAtCall = call;
                throw failure;
            }

            var now = Interlocked.Increment(ref _inFlight);
            lock (this)
            {
                MaxConcurrent = Math.Max(MaxConcurrent, now);
            }

            await Task.Delay(delay);
            Interlocked.Decrement(ref _inFlight);
            return 0;
        }

        public Task UnsubscribeAsync(IGatewayObserver observer) => Task.CompletedTask;

        public Task<long> AppendAsync(FeedEvent feedEvent) => throw new NotSupportedException();

        public Task<IReadOnlyList<long>> AppendBatchAsync(IReadOnlyList<FeedEvent> events) => throw new NotSupportedException();

        public Task<FeedRead> ReadAsync(long afterSeq, int max) => Task.FromResult(new FeedRead([], 0, false));

        public Task<FeedRead> ReadGapAsync(long afterSeq, int max) => ReadAsync(afterSeq, max);

        public Task<IReadOnlyList<FeedEvent>> ReadLatestAsync(long beforeSeq, int max) => Task.FromResult<IReadOnlyList<FeedEvent>>([]);

        public Task<FeedStats> GetStatsAsync() => Task.FromResult(new FeedStats(0, 1));
    }

    private sealed class NoListener : IFeedListener
    {
        public void OnEvent(FeedFrame frame)
        {
        }

        public ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void OnSubscribed(string group, long lastSeq)
        {
        }

        public void OnReset(string group, long lastSeq)
        {
        }
    }
}
