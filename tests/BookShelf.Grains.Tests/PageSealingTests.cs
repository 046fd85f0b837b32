using BookShelf.Grains.Feed;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace BookShelf.Grains.Tests;

/// <summary>
/// A full page of a feed is sealed off the append's path: the append that fills it answers once its own head write
/// is stored, appends go on while the page and its keys are stored, and the head lets go of the page only after
/// both are. A page store that is slow or fails loses nothing, repeats nothing and holds up no append.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PageSealingTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AppendsGoOnWhileTheirFullPageIsBeingStored()
    {
        var (group, updater) = NewFeed();
        var pageWrite = fixture.HoldNextWrite("page", PageId(group, 0));
        var ct = TestContext.Current.CancellationToken;

        // The fixture's page size is 16: the 16th append fills page 0, whose store is held.
        for (var n = 1; n <= 16; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(group, n)).WaitAsync(Generous, ct));
        }

        await pageWrite.Arrived.WaitAsync(Generous, ct);
        for (var n = 17; n <= 20; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(group, n)).WaitAsync(Generous, ct));
        }

        // While the page is held everything is in the head's tail: it reads back, and a copy is what it copies.
        AssertLikes(await updater.ReadAsync(0, 100), 1, 20);
        Assert.Equal(3, await updater.AppendAsync(Like(group, 3)).WaitAsync(Generous, ct));
        Assert.Equal(0, StoredHead(updater).SealedPages);

        pageWrite.Release();
        await Poll.UntilAsync(() => Task.FromResult(StoredHead(updater).SealedPages == 1), Generous, $"{group}'s head to let go of its stored page 0", cancellationToken: ct);
        Assert.Equal(Enumerable.Range(17, 4).Select(n => (long)n), StoredHead(updater).Tail.Select(e => e.Seq));
        AssertLikes(await updater.ReadAsync(0, 100), 1, 20);

        // Bucket 0 has been cached since the feed's first append (known empty then): now that the tail has let go of
        // page 0, the cached bucket answers for its keys.
        Assert.Equal(3, await updater.AppendAsync(Like(group, 3)));
        Assert.Equal(20, (await updater.GetStatsAsync()).LastSeq);

        // Across a reactivation the sealed page answers for its keys through the index.
        await fixture.DeactivateAsync(updater, ct);
        Assert.Equal(3, await updater.AppendAsync(Like(group, 3)));
        Assert.Equal(21, await updater.AppendAsync(Like(group, 21)));
        AssertLikes(await updater.ReadAsync(0, 100), 1, 21);
    }

    [Fact]
    public async Task APageWhoseStoreFailsIsStoredAgainAndNothingIsLostOrRepeated()
    {
        var (group, updater) = NewFeed();
        var failed = fixture.FailNextWrite("page", PageId(group, 0));
        var ct = TestContext.Current.CancellationToken;

        // The first store of page 0 fails; the append that filled it answers all the same.
        for (var n = 1; n <= 16; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(group, n)).WaitAsync(Generous, ct));
        }

        // With no append after it, the feed stores the page again by itself.
        await failed.WaitAsync(Generous, ct);
        await Poll.UntilAsync(() => Task.FromResult(StoredHead(updater).SealedPages == 1), Generous, $"{group}'s page 0 to be stored again after a failed store, with no append", cancellationToken: ct);

        for (var n = 17; n <= 40; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(group, n)).WaitAsync(Generous, ct));
        }

        await Poll.UntilAsync(() => Task.FromResult(StoredHead(updater).SealedPages == 2), Generous, $"{group}'s page 1 to be sealed", cancellationToken: ct);
        Assert.Equal(Enumerable.Range(33, 8).Select(n => (long)n), StoredHead(updater).Tail.Select(e => e.Seq));
        AssertLikes(await updater.ReadAsync(0, 100), 1, 40);
        await fixture.DeactivateAsync(updater, ct);
        Assert.Equal(5, await updater.AppendAsync(Like(group, 5)));
        Assert.Equal(41, await updater.AppendAsync(Like(group, 41)));
        AssertLikes(await updater.ReadAsync(0, 100), 1, 41);
    }

    [Fact]
    public async Task AHeadWriteThatFailsWhileLettingGoOfAPageKeepsThePageInItsTail()
    {
        var (group, updater) = NewFeed();
        var ct = TestContext.Current.CancellationToken;
        var indexWrite = fixture.HoldNextWrite("index", fixture.Grains.GetGrain<IFeedIndexGrain>($"{group}|like:sealing/0").GetGrainId());
        for (var n = 1; n <= 16; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(group, n)).WaitAsync(Generous, ct));
        }

        // Page 0's keys are held on their way into the index; the head write that would let go of the page will fail.
        await indexWrite.Arrived.WaitAsync(Generous, ct);
        var failed = fixture.FailNextWrite("feed", updater.GetGrainId());
        indexWrite.Release();
        await failed.WaitAsync(Generous, ct);

        // The page and its keys are stored, but the head still holds all 16 events in its tail.
        var head = StoredHead(updater);
        Assert.Equal((0L, 16), (head.SealedPages, head.Tail.Count));

        // The activation goes; the next one (a reader arriving) seals the page before it answers.
        await Poll.UntilAsync(async () => (await updater.GetStatsAsync()).LastSeq == 16 && StoredHead(updater).SealedPages == 1, Generous, $"{group}'s page 0 to be sealed after the failed head write", cancellationToken: ct);
        Assert.Empty(StoredHead(updater).Tail);
        Assert.Equal(3, await updater.AppendAsync(Like(group, 3)));
        Assert.Equal(17, await updater.AppendAsync(Like(group, 17)));
        AssertLikes(await updater.ReadAsync(0, 100), 1, 17);
    }

    [Fact]
    public async Task APageIsNeverWrittenAgainWithOtherEvents()
    {
        // Two activations sealing page 0 of one feed with different page sizes (silos configured apart): the second
        // write must fail rather than overwrite events the first one's head may already have let go of.
        var page = fixture.Grains.GetGrain<IFeedPageGrain>($"{Groups.ForPost(Random.Shared.NextInt64(14_000_000_000, 15_000_000_000))}/0");
        var events = Enumerable.Range(1, 4).Select(n => Like("g", n) with { Seq = n }).ToList();
        await page.WriteAsync(events);

        await page.WriteAsync(events);
        await Assert.ThrowsAsync<InvalidOperationException>(() => page.WriteAsync(events[..2]));
        await Assert.ThrowsAsync<InvalidOperationException>(() => page.WriteAsync([.. events[..3], Like("g", 9) with { Seq = 4 }]));
        Assert.Equal(events, await page.ReadAsync());
    }

    [Fact]
    public async Task AKeyInABucketNoSealedPageReachedIsAppendedWithoutReadingTheIndex()
    {
        var (group, updater) = NewFeed();
        var ct = TestContext.Current.CancellationToken;

        // A new feed has indexed nothing: its first key needs no read of the index.
        Assert.Equal(1, await updater.AppendAsync(Like(group, 1)));
        Assert.False(await IndexActiveAsync(group, "like:sealing/0"), "the first key of a new feed read its index bucket");

        // Page 0 (keys 1 to 16, bucket 0) is sealed; key 1000 is in bucket 3, above every indexed one.
        for (var n = 2; n <= 16; n++)
        {
            await updater.AppendAsync(Like(group, n));
        }

        await Poll.UntilAsync(() => Task.FromResult(StoredHead(updater).SealedPages == 1), Generous, $"{group}'s page 0 to be sealed", cancellationToken: ct);
        Assert.Equal(17, await updater.AppendAsync(Like(group, 1000)));
        Assert.False(await IndexActiveAsync(group, "like:sealing/3"), "a key above every indexed bucket read its index bucket");

        // A copy of a sealed key is still found, after a reactivation too.
        Assert.Equal(7, await updater.AppendAsync(Like(group, 7)));
        await fixture.DeactivateAsync(updater, ct);
        Assert.Equal(7, await updater.AppendAsync(Like(group, 7)));
        Assert.Equal(17, await updater.AppendAsync(Like(group, 1000)));
        Assert.Equal(18, await updater.AppendAsync(Like(group, 1001)));
    }

    [Fact]
    public async Task AHeadStoredBeforeItRecordedItsIndexedBucketsReadsTheIndex()
    {
        // A feed sealed by a version that did not record which buckets it indexed: page 0 is sealed, its keys are
        // only in the index. A copy of one of them must be found there, not appended again.
        var (group, updater) = NewFeed();
        var serializer = fixture.Cluster.Client.ServiceProvider.GetRequiredService<Serializer>();
        var page = Enumerable.Range(1, 16).Select(n => Like(group, n) with { Seq = n }).ToList();
        var index = fixture.Grains.GetGrain<IFeedIndexGrain>($"{group}|like:sealing/0");
        Assert.True(fixture.Store.TryAdd($"index|{index.GetGrainId()}", (serializer.SerializeToArray(new FeedIndexState { Keys = page.ToDictionary(e => e.Key, e => e.Seq) }), "old")));
        Assert.True(fixture.Store.TryAdd($"page|{PageId(group, 0)}", (serializer.SerializeToArray(new FeedPageState { Events = page }), "old")));
        Assert.True(fixture.Store.TryAdd($"feed|{updater.GetGrainId()}", (serializer.SerializeToArray(new FeedState { LastSeq = 16, SealedPages = 1, PageSize = 16 }), "old")));

        Assert.Equal(5, await updater.AppendAsync(Like(group, 5)));
        Assert.Equal(17, await updater.AppendAsync(Like(group, 300)));
        var read = await updater.ReadAsync(0, 100);
        Assert.Equal(Enumerable.Range(1, 17).Select(n => (long)n), read.Events.Select(e => e.Seq));
        Assert.Equal("like:sealing:300", read.Events[^1].Key);
    }

    private async Task<bool> IndexActiveAsync(string group, string bucket)
    {
        var id = fixture.Grains.GetGrain<IFeedIndexGrain>($"{group}|{bucket}").GetGrainId();
        return (await fixture.Grains.GetGrain<IManagementGrain>(0).GetActiveGrains(id.Type)).Contains(id);
    }

    private static FeedEvent Like(string group, int n) => new(0, group, FeedEventKind.LikeChanged, $"like:sealing:{n}", 1, null, "bob", null, 0, n, DateTimeOffset.UtcNow);

    private (string Group, IUpdaterGrain Updater) NewFeed()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(14_000_000_000, 15_000_000_000));
        return (group, fixture.Grains.GetGrain<IUpdaterGrain>(group));
    }

    private Orleans.Runtime.GrainId PageId(string group, long page) => fixture.Grains.GetGrain<IFeedPageGrain>($"{group}/{page}").GetGrainId();

    private FeedState StoredHead(IUpdaterGrain updater) => fixture.StoredHead(updater);

    private static void AssertLikes(FeedRead read, int first, int last)
    {
        Assert.False(read.Reset);
        Assert.Equal(Enumerable.Range(first, last - first + 1).Select(n => (long)n), read.Events.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(first, last - first + 1).Select(n => $"like:sealing:{n}"), read.Events.Select(e => e.Key));
    }
}
