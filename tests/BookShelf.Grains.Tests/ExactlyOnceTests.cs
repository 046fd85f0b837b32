using System.Diagnostics;
using BookShelf.Grains.Posts;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace BookShelf.Grains.Tests;

/// <summary>
/// Appends are idempotent for any delay and any number of copies, and no stored post waits for a visitor to
/// reach its feed.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ExactlyOnceTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CopyDeliveredAfterFiveThousandLaterEventsIsNotAppendedAgain()
    {
        var postId = Random.Shared.NextInt64(10_000_000_000, 11_000_000_000);
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(postId));
        FeedEvent Comment(int n) => FeedEvent.CommentAdded(postId, n, "bob", $"comment {n}", 0, DateTimeOffset.UtcNow);
        for (var n = 1; n <= 5001; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Comment(n)));
        }

        // The stream's copy of the first event, an outbox retry of a middle one, and a copy of the newest.
        Assert.Equal(1, await updater.AppendAsync(Comment(1)));
        Assert.Equal(2500, await updater.AppendAsync(Comment(2500)));
        Assert.Equal(5001, await updater.AppendAsync(Comment(5001)));
        Assert.Equal(5001, (await updater.GetStatsAsync()).LastSeq);
        Assert.Equal(5002, await updater.AppendAsync(Comment(5002)));
    }

    [Fact]
    public async Task CopiesAfterTheFeedIsReactivatedAreNotAppendedAgain()
    {
        var postId = Random.Shared.NextInt64(11_000_000_000, 12_000_000_000);
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(postId));
        FeedEvent Like(int n) => FeedEvent.LikeChanged(postId, n, "bob", n % 2, DateTimeOffset.UtcNow);
        for (var n = 1; n <= 100; n++)
        {
            await updater.AppendAsync(Like(n));
        }

        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);

        // Page size 16: 1 and 50 are sealed (found through the index), 100 is in the tail.
        Assert.Equal(1, await updater.AppendAsync(Like(1)));
        Assert.Equal(50, await updater.AppendAsync(Like(50)));
        Assert.Equal(100, await updater.AppendAsync(Like(100)));
        Assert.Equal(100, (await updater.GetStatsAsync()).LastSeq);
        var feed = await updater.ReadLatestAsync(0, 200);
        Assert.Equal(100, feed.Count);
        Assert.Equal(100, feed.Select(e => e.Key).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task OutboxRedrivenAfterReactivationAppendsNothingNew()
    {
        var post = await fixture.CreatePostAsync("re-driven");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        var first = await grain.AddCommentAsync("bob", "the only copy");
        var group = Groups.ForPost(post.Id);
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(group);
        // Far more later events than any window of recent keys would hold.
        for (var n = 1; n <= 1100; n++)
        {
            await updater.AppendAsync(FeedEvent.LikeChanged(post.Id, 10_000 + n, "carol", 1, DateTimeOffset.UtcNow));
        }

        // The state a silo leaves when it dies after the feed took the comment but before the journal let it go.
        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
        var stored = fixture.StoredPost(post.Id);
        var again = FeedEvent.CommentAdded(post.Id, first.Id, "bob", "the only copy", 0, first.CreatedAt);
        stored.Outbox.Add(again);
        WritePost(post.Id, stored);
        fixture.Journal.Add(post.Id, again.Key, DateTimeOffset.UtcNow);

        Assert.NotNull(await grain.GetAsync());
        await Poll.UntilAsync(() => Task.FromResult(!fixture.Journal.Pending.Any(p => p.PostId == post.Id)), Generous, "the re-driven outbox to be confirmed", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(1101, (await updater.GetStatsAsync()).LastSeq);
        var feed = await updater.ReadLatestAsync(0, 2000);
        Assert.Equal(1101, feed.Count);
        Assert.Single(feed, e => e.Kind == FeedEventKind.CommentAdded);
    }

    [Fact]
    public async Task PostWhoseSiloDiedBetweenStoringAndConfirmingReachesItsFeedWithNobodyReadingIt()
    {
        // What the journal and storage hold when a silo dies right after storing a post: the post with its
        // event in the outbox, the event marked pending, nothing in the feed, and no activation anywhere.
        var id = await fixture.NewPostIdAsync();
        var created = FeedEvent.PostCreated(id, "orphan", "alice", DateTimeOffset.UtcNow);
        fixture.Journal.Add(id, created.Key, DateTimeOffset.UtcNow);
        WritePost(id, new PostState { Exists = true, Author = "alice", Title = "orphan", Body = "left behind", CreatedAt = created.At, Outbox = [created] });
        var stored = Stopwatch.StartNew();

        var site = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site);
        await Poll.UntilAsync(async () => (await site.ReadLatestAsync(0, 500)).Any(e => e.PostId == id), Generous, $"post {id} to reach the site feed", cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(stored.Elapsed < fixture.SweepBound + TimeSpan.FromSeconds(10), $"reached the feed after {stored.Elapsed}, past the sweep bound");
        Assert.Single(await site.ReadLatestAsync(0, 500), e => e.PostId == id);
        await Poll.UntilAsync(() => Task.FromResult(!fixture.Journal.Pending.Any(p => p.PostId == id)), Generous, "the journal entry to be settled", cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task SettlingReadsStorageNotAStaleActivation()
    {
        // The activation saw the post before another activation (on a silo thought dead) stored a comment with its
        // event: settling must find that event in storage, deliver it, and only then let the journal forget it.
        var post = await fixture.CreatePostAsync("stale settle");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        Assert.NotNull(await grain.GetAsync());
        var stored = fixture.StoredPost(post.Id);
        var comment = new CommentDetails(1, post.Id, "bob", "stored elsewhere", DateTimeOffset.UtcNow);
        stored.Comments.Add(comment);
        stored.Outbox.Add(FeedEvent.CommentAdded(post.Id, 1, "bob", comment.Text, 0, comment.CreatedAt));
        WritePost(post.Id, stored);
        fixture.Journal.Add(post.Id, "comment:" + post.Id + ":1", DateTimeOffset.UtcNow);

        Assert.True(await grain.SettleAsync([$"comment:{post.Id}:1", "comment:never-stored"]));

        Assert.Equal(1, (await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(post.Id)).GetStatsAsync()).LastSeq);
        Assert.DoesNotContain(fixture.Journal.Pending, p => p.PostId == post.Id);
    }

    [Fact]
    public async Task IdleUpdaterReadsItsHeadAgainBeforeAnswering()
    {
        // What a duplicate activation on a silo paused past its death sees when it runs again: storage moved on
        // (another activation appended) while its memory did not. It must answer from storage, and not append a
        // copy of what the other one appended.
        var postId = Random.Shared.NextInt64(12_000_000_000, 13_000_000_000);
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(postId));
        for (var n = 1; n <= 3; n++)
        {
            await updater.AppendAsync(FeedEvent.CommentAdded(postId, n, "bob", $"comment {n}", 0, DateTimeOffset.UtcNow));
        }

        var key = $"feed|{updater.GetGrainId()}";
        var head = Serializer.Deserialize<Feed.FeedState>(fixture.Store[key].Data)!;
        var elsewhere = head.Stamp(FeedEvent.CommentAdded(postId, 4, "carol", "appended elsewhere", 0, DateTimeOffset.UtcNow), Groups.ForPost(postId));
        var entry = fixture.Store[key];
        Assert.True(fixture.Store.TryUpdate(key, (Serializer.SerializeToArray(head), Guid.NewGuid().ToString("N")), entry));

        await Poll.UntilAsync(async () => (await updater.GetStatsAsync()).LastSeq == 4, Generous, "the idle updater to read its head again", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(4, await updater.AppendAsync(elsewhere with { Seq = 0 }));
        Assert.Equal(5, await updater.AppendAsync(FeedEvent.CommentAdded(postId, 5, "bob", "next", 0, DateTimeOffset.UtcNow)));
        Assert.Equal(5, (await updater.ReadLatestAsync(0, 10)).Select(e => e.Key).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task JournalHoldsNothingForPostsWhoseEventsWereConfirmed()
    {
        var post = await fixture.CreatePostAsync("settled");
        await fixture.Grains.GetGrain<IPostGrain>(post.Id).AddCommentAsync("bob", "settled too");
        Assert.DoesNotContain(fixture.Journal.Pending, p => p.PostId == post.Id);
    }

    [Fact]
    public async Task IndexAnswersFromStorageEvenWhenItsActivationIsStale()
    {
        // A silo paused past its death declaration keeps its activations until it learns so; another silo's
        // activation of the same bucket may have written keys since. The answer must come from storage.
        var index = fixture.Grains.GetGrain<IFeedIndexGrain>($"stale-{Guid.NewGuid():N}|post/0");
        Assert.Empty(await index.ReadAsync());
        Assert.True(fixture.Store.TryAdd($"index|{index.GetGrainId()}", (Serializer.SerializeToArray(new Feed.FeedIndexState { Keys = { ["post:7"] = 3 } }), "elsewhere")));

        Assert.Equal(3, (await index.ReadAsync())["post:7"]);
        await index.AddAsync(new Dictionary<string, long> { ["post:8"] = 4 });
        Assert.Equal(2, (await index.ReadAsync()).Count);
    }

    [Fact]
    public async Task PageAnswersFromStorageWhenItsActivationHoldsNothing()
    {
        var page = fixture.Grains.GetGrain<IFeedPageGrain>($"stale-{Guid.NewGuid():N}/0");
        Assert.Empty(await page.ReadAsync());
        var events = new List<FeedEvent> { FeedEvent.PostCreated(1, "t", "a", DateTimeOffset.UnixEpoch) with { Seq = 1 } };
        Assert.True(fixture.Store.TryAdd($"page|{page.GetGrainId()}", (Serializer.SerializeToArray(new Feed.FeedPageState { Events = events }), "elsewhere")));

        Assert.Equal(events, await page.ReadAsync());
        // Sealing the same page again (after a crash) finds it stored and changes nothing.
        await page.WriteAsync(events);
        Assert.Equal("elsewhere", fixture.Store[$"page|{page.GetGrainId()}"].ETag);
    }

    private string PostKey(long id) => $"post|{fixture.Grains.GetGrain<IPostGrain>(id).GetGrainId()}";

    private Serializer Serializer => fixture.Cluster.Client.ServiceProvider.GetRequiredService<Serializer>();


    private void WritePost(long id, PostState post)
    {
        var key = PostKey(id);
        var etag = fixture.Store.TryGetValue(key, out var entry) ? entry.ETag : null;
        Assert.True(etag is null || fixture.Store.TryUpdate(key, (Serializer.SerializeToArray(post), Guid.NewGuid().ToString("N")), entry), "the stored post changed under the test");
        if (etag is null)
        {
            Assert.True(fixture.Store.TryAdd(key, (Serializer.SerializeToArray(post), Guid.NewGuid().ToString("N"))));
        }
    }
}
