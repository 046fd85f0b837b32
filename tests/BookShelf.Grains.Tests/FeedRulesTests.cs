using BookShelf.Grains.Feed;
using Microsoft.Extensions.Time.Testing;

namespace BookShelf.Grains.Tests;

/// <summary>The updater's rules as plain classes: key index buckets, idempotency, leases, paged reads.</summary>
public sealed class FeedRulesTests
{
    [Theory]
    [InlineData("post:123456", "post/482")]
    [InlineData("post:255", "post/0")]
    [InlineData("post:256", "post/1")]
    [InlineData("comment:7:3", "comment:7/0")]
    [InlineData("like:7:1000", "like:7/3")]
    public void KeysFallInTheBucketOfTheirSourceAndNumber(string key, string bucket) =>
        Assert.Equal(bucket, AppendedKeys.BucketOf(key));

    [Fact]
    public void KeysWithoutANumberFallInAStableHashedBucket()
    {
        var bucket = AppendedKeys.BucketOf("custom:abc");
        Assert.StartsWith("custom/h", bucket, StringComparison.Ordinal);
        Assert.Equal(bucket, AppendedKeys.BucketOf("custom:abc"));
    }

    [Fact]
    public void KeyIsKnownInTheTailThenThroughItsBucketOnceSealed()
    {
        var keys = new AppendedKeys(cachedBuckets: 4);
        var e = FeedEvent.PostCreated(42, "t", "a", DateTimeOffset.UnixEpoch) with { Seq = 7 };
        Assert.Equal(KeyState.NeedsBucket, keys.Find(e.Key).State);
        keys.AddBucket("post/0", new Dictionary<string, long>());
        Assert.Equal(KeyState.New, keys.Find(e.Key).State);

        keys.Appended(e);
        Assert.Equal(new KeyLookup(KeyState.InTail, 7), keys.Find(e.Key));

        keys.Sealed([e]);
        Assert.Equal(new KeyLookup(KeyState.Sealed, 7), keys.Find(e.Key));
    }

    [Fact]
    public void ABucketCachedWhileItsPageWasBeingStoredHoldsThePageOnceSealed()
    {
        // The page's keys are still in the tail when their bucket is cached without them (read before the index took
        // them, or known empty): sealing the page must put them in the cached bucket as it takes them from the tail.
        var keys = new AppendedKeys(cachedBuckets: 4);
        var page = new[] { 1L, 2 }.Select((id, i) => FeedEvent.PostCreated(id, "t", "a", DateTimeOffset.UnixEpoch) with { Seq = i + 1 }).ToList();
        page.ForEach(keys.Appended);
        keys.AddBucket("post/0", new Dictionary<string, long>());
        Assert.Equal(new KeyLookup(KeyState.InTail, 1), keys.Find("post:1"));

        keys.Sealed(page);
        Assert.Equal(new KeyLookup(KeyState.Sealed, 1), keys.Find("post:1"));
        Assert.Equal(new KeyLookup(KeyState.Sealed, 2), keys.Find("post:2"));
    }

    [Fact]
    public void ABucketAboveEveryIndexedOneOfItsSourceIsKnownEmpty()
    {
        var head = new FeedState();
        head.StartRecordingIndexedBuckets();
        Assert.True(head.IndexHasNo("post/0"));

        head.RecordIndexed([.. new[] { 3L, 300, 40 }.Select(id => FeedEvent.PostCreated(id, "t", "a", DateTimeOffset.UnixEpoch))]);
        Assert.Equal(1, head.IndexedBuckets!["post"]);
        Assert.False(head.IndexHasNo("post/0"));
        Assert.False(head.IndexHasNo("post/1"));
        Assert.True(head.IndexHasNo("post/2"));
        // Another source, and hashed buckets (no order among them), are judged on their own.
        Assert.True(head.IndexHasNo("comment:7/0"));
        Assert.False(head.IndexHasNo("post/h3"));
    }

    [Fact]
    public void AHeadThatSealedPagesWithoutRecordingItsBucketsKnowsNoBucketEmpty()
    {
        var head = new FeedState { LastSeq = 16, SealedPages = 1, PageSize = 16 };
        head.StartRecordingIndexedBuckets();
        Assert.Null(head.IndexedBuckets);
        Assert.False(head.IndexHasNo("post/99"));
    }

    [Fact]
    public void AStoredPageIsLetGoOfOnlyByAHeadThatStillStartsWithIt()
    {
        static FeedState Head(params string[] keys)
        {
            // As a loaded head is: its page size recorded.
            var head = new FeedState { PageSize = 2 };
            foreach (var key in keys)
            {
                head.Stamp(new FeedEvent(0, "g", FeedEventKind.LikeChanged, key, 1, null, "bob", null, 0, 0, DateTimeOffset.UnixEpoch), "g");
            }

            return head;
        }

        var sealer = new PageSealer();
        var head = Head("a", "b", "c");
        Assert.Null(sealer.NextToStore(Head("a"), pageSize: 2));
        var page = sealer.NextToStore(head, pageSize: 2)!;
        Assert.Equal(["a", "b"], page.Events.Select(e => e.Key));
        Assert.Null(sealer.NextToStore(head, pageSize: 2));
        Assert.Null(sealer.TakeStored(head, pageSize: 2));

        // Stored: a head read again with the same events lets go of them; a failed write puts them back.
        sealer.StoreEnded(page, succeeded: true);
        var reread = Head("a", "b", "c");
        var letGo = sealer.TakeStored(reread, pageSize: 2)!;
        Assert.Equal((1L, 2), (reread.SealedPages, reread.PageSize));
        Assert.Equal(["c"], reread.Tail.Select(e => e.Key));
        PageSealer.Undo(reread, letGo);
        Assert.Equal((0L, 2), (reread.SealedPages, reread.PageSize));
        Assert.Equal(["a", "b", "c"], reread.Tail.Select(e => e.Key));

        // A head whose first events differ (same seqs, other keys) does not: the stored page is dropped.
        var other = Head("a", "x", "c");
        Assert.Null(sealer.TakeStored(other, pageSize: 2));
        Assert.Null(sealer.TakeStored(reread, pageSize: 2));
        Assert.Equal(["a", "x"], sealer.NextToStore(other, pageSize: 2)!.Events.Select(e => e.Key));
    }

    [Fact]
    public void AnEvictedBucketIsAskedForAgainNotForgotten()
    {
        var keys = new AppendedKeys(cachedBuckets: 1);
        keys.AddBucket("post/0", new Dictionary<string, long> { ["post:1"] = 1 });
        keys.AddBucket("post/1", new Dictionary<string, long>());
        // The cache holds one bucket: the first is gone, so the answer is "load it", never "new".
        Assert.Equal(KeyState.NeedsBucket, keys.Find("post:1").State);
        keys.AddBucket("post/0", new Dictionary<string, long> { ["post:1"] = 1 });
        Assert.Equal(new KeyLookup(KeyState.Sealed, 1), keys.Find("post:1"));
    }

    [Fact]
    public void SealedPageIsIndexedByBucket()
    {
        var page = new[] { 1L, 2, 300, 301 }.Select((id, i) => FeedEvent.PostCreated(id, "t", "a", DateTimeOffset.UnixEpoch) with { Seq = i + 1 }).ToList();
        var buckets = AppendedKeys.ByBucket(page).ToDictionary(b => b.Bucket, b => b.Keys);
        Assert.Equal(["post/0", "post/1"], buckets.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new Dictionary<string, long> { ["post:300"] = 3, ["post:301"] = 4 }, buckets["post/1"]);
    }

    [Fact]
    public void LeasesExpireOnlyAfterTheirDuration()
    {
        var time = new FakeTimeProvider();
        var leases = new GatewayLeases<string>(time, TimeSpan.FromSeconds(45));
        Assert.True(leases.Renew("gateway-a"));
        Assert.False(leases.Renew("gateway-a"));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(leases.Renew("gateway-b"));
        time.Advance(TimeSpan.FromSeconds(16));
        Assert.Equal(1, leases.DropExpired());
        Assert.Equal(["gateway-b"], leases.Holders);
        Assert.True(leases.Remove("gateway-b"));
        Assert.Equal(0, leases.Count);
    }

    [Fact]
    public void RenewedLeaseOutlivesItsFirstExpiry()
    {
        var time = new FakeTimeProvider();
        var leases = new GatewayLeases<string>(time, TimeSpan.FromSeconds(10));
        leases.Renew("gateway");
        time.Advance(TimeSpan.FromSeconds(9));
        leases.Renew("gateway");
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, leases.DropExpired());
        Assert.Equal(1, leases.Count);
    }

    [Fact]
    public void AHeadTellsThePageSizeItsPagesWereSealedWith()
    {
        var head = new FeedState();
        Assert.Equal(16, head.PageSizeOr(16, Groups.Site));
        for (var n = 1; n <= 11; n++)
        {
            head.Stamp(FeedEvent.PostCreated(n, "t", "a", DateTimeOffset.UnixEpoch), Groups.Site);
        }

        // Two pages of 4 sealed, 3 in the tail: 4, whatever is configured now.
        head.Tail.RemoveRange(0, 8);
        head.SealedPages = 2;
        Assert.Equal(4, head.PageSizeOr(16, Groups.Site));
        Assert.Equal(4, head.PageSizeOr(64, Groups.Site));

        // A head that is not whole pages is refused, not read with a guess.
        head.SealedPages = 3;
        var error = Assert.Throws<InvalidOperationException>(() => head.PageSizeOr(16, Groups.Site));
        Assert.Contains("whole pages", error.Message, StringComparison.Ordinal);

        // A recorded size is the size; counts that disagree with it (pages of mixed sizes) are refused too.
        head.SealedPages = 2;
        head.PageSize = 4;
        Assert.Equal(4, head.PageSizeOr(16, Groups.Site));
        head.PageSize = 2;
        Assert.Throws<InvalidOperationException>(() => head.PageSizeOr(16, Groups.Site));
    }

    [Fact]
    public async Task ReaderJoinsSealedPagesAndTheTail()
    {
        var head = new FeedState();
        var pages = new Dictionary<long, IReadOnlyList<FeedEvent>>();
        var loads = 0;
        var reader = new FeedReader(pageSize: 4, maxReplay: 100, page => { loads++; return Task.FromResult(pages[page]); });
        for (var n = 1; n <= 10; n++)
        {
            head.Stamp(FeedEvent.PostCreated(n, "t", "a", DateTimeOffset.UnixEpoch), Groups.Site);
            if (head.Tail.Count == 4)
            {
                pages[head.SealedPages] = [.. head.Tail];
                head.Tail.Clear();
                head.SealedPages++;
            }
        }

        var read = await reader.ReadAfterAsync(head, afterSeq: 2, max: 100);
        Assert.Equal(Enumerable.Range(3, 8).Select(n => (long)n), read.Events.Select(e => e.Seq));
        Assert.False(read.Reset);
        Assert.Equal(2, loads);

        var latest = await reader.ReadLatestAsync(head, beforeSeq: 6, max: 3);
        Assert.Equal([5L, 4, 3], latest.Select(e => e.Seq));
        Assert.Equal(2, loads);
    }

    [Fact]
    public async Task ReaderAsksForAResetBeyondTheReplayLimit()
    {
        var head = new FeedState();
        for (var n = 1; n <= 20; n++)
        {
            head.Stamp(FeedEvent.PostCreated(n, "t", "a", DateTimeOffset.UnixEpoch), Groups.Site);
        }

        var reader = new FeedReader(pageSize: 64, maxReplay: 5, _ => throw new InvalidOperationException("no page should be read"));
        var read = await reader.ReadAfterAsync(head, afterSeq: 10, max: 100);
        Assert.True(read.Reset);
        Assert.Empty(read.Events);
        Assert.Equal(20, read.LastSeq);
        Assert.False((await reader.ReadAfterAsync(head, afterSeq: 15, max: 100)).Reset);
    }

    [Fact]
    public void StampGivesTheNextSeqAndUnstampTakesItBack()
    {
        var head = new FeedState();
        var first = head.Stamp(FeedEvent.PostCreated(1, "t", "a", DateTimeOffset.UnixEpoch), "site");
        var second = head.Stamp(FeedEvent.PostCreated(2, "t", "a", DateTimeOffset.UnixEpoch), "site");
        Assert.Equal((1L, 2L), (first.Seq, second.Seq));
        head.Unstamp();
        Assert.Equal(1, head.LastSeq);
        Assert.Equal([first], head.Tail);
    }
}
