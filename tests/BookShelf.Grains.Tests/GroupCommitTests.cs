using BookShelf.Grains.Feed;

namespace BookShelf.Grains.Tests;

/// <summary>The write path's group commit: a feed stores a batch in one write, and a post is stored once per change.</summary>
[Collection(ClusterCollection.Name)]
public sealed class GroupCommitTests(ClusterFixture fixture)
{
    [Fact]
    public async Task ABatchIsStoredInOneWriteAndItsCopiesKeepTheirFirstSeq()
    {
        var postId = Random.Shared.NextInt64(3_000_000_000, 4_000_000_000);
        var feed = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(postId));
        var events = Enumerable.Range(1, 10).Select(i => FeedEvent.CommentAdded(postId, i, "alice", $"comment {i}", 0, DateTimeOffset.UtcNow)).ToList();
        var first = await feed.AppendAsync(events[0]);
        var writesBefore = fixture.Writes("feed", feed.GetGrainId());

        // The first again, then nine new ones with a copy of the fifth among them.
        var seqs = await feed.AppendBatchAsync([events[0], .. events[1..5], events[4], .. events[5..]]);

        Assert.Equal(1, fixture.Writes("feed", feed.GetGrainId()) - writesBefore);
        Assert.Equal([first, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10], seqs);
        var read = await feed.ReadAsync(0, 100);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), read.Events.Select(e => e.Seq));
        Assert.Equal(events.Select(e => e.Key), read.Events.Select(e => e.Key));
    }

    [Fact]
    public async Task ABatchPastAPageIsSealedAndReadsBackInOrder()
    {
        // The cluster's pages hold 16 events: one batch of 40 seals two pages.
        var postId = Random.Shared.NextInt64(4_000_000_000, 5_000_000_000);
        var feed = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(postId));
        var events = Enumerable.Range(1, 40).Select(i => FeedEvent.LikeChanged(postId, i, "bob", i % 2, DateTimeOffset.UtcNow)).ToList();

        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), await feed.AppendBatchAsync(events));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), await feed.AppendBatchAsync(events));
        var read = await feed.ReadAsync(0, 100);
        Assert.Equal(events.Select(e => e.Key), read.Events.Select(e => e.Key));
    }

    [Fact]
    public async Task ACreatedPostIsStoredOnceAndAReactivationKeepsItOnceInItsFeed()
    {
        var created = await fixture.CreatePostAsync("stored once");
        var post = fixture.Grains.GetGrain<IPostGrain>(created.Id);

        Assert.Equal(1, fixture.Writes("post", post.GetGrainId()));
        Assert.DoesNotContain(fixture.Journal.Pending, p => p.PostId == created.Id);

        // The stored outbox still holds the confirmed event: a new activation drops it (the journal says it is confirmed).
        var site = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site);
        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
        Assert.NotNull(await post.GetAsync());
        var comment = await post.AddCommentAsync("bob", "after reactivation");
        Assert.Equal(2, fixture.Writes("post", post.GetGrainId()));
        var inFeed = (await site.ReadLatestAsync(0, 100)).Where(e => e.PostId == created.Id).ToList();
        Assert.Single(inFeed);
        Assert.Equal(1, comment.Id);
    }
}

/// <summary>A busy post's changes applied together (what the gateway's <c>PostWrites</c> sends).</summary>
[Collection(ClusterCollection.Name)]
public sealed class PostBatchTests(ClusterFixture fixture)
{
    [Fact]
    public async Task ABatchOfChangesIsOneWriteInOrderAndItsRetryChangesNothing()
    {
        var created = await fixture.CreatePostAsync("a busy post");
        var post = fixture.Grains.GetGrain<IPostGrain>(created.Id);
        var feed = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(created.Id));
        PostChange[] changes =
        [
            PostChange.Comment("bob", "first", "req:1"),
            PostChange.Comment("carol", "second", "req:2"),
            PostChange.Like("bob", "req:3"),
            PostChange.Comment("dave", new string('x', PostRules.MaxCommentLength + 1), "req:4"),
            PostChange.Comment("erin", "third", "req:5"),
        ];
        var writesBefore = fixture.Writes("post", post.GetGrainId());

        var results = await post.ApplyAsync(changes);

        Assert.Equal(1, fixture.Writes("post", post.GetGrainId()) - writesBefore);
        Assert.Equal([1L, 2, 3], results.Where(r => r.Comment is not null).Select(r => r.Comment!.Id));
        Assert.Equal(new LikeResult(true, 1), results[2].Like);
        Assert.Equal("text", results[3].InvalidField);
        var read = await feed.ReadAsync(0, 100);
        Assert.Equal([FeedEventKind.CommentAdded, FeedEventKind.CommentAdded, FeedEventKind.LikeChanged, FeedEventKind.CommentAdded], read.Events.Select(e => e.Kind));
        Assert.Equal(["first", "second", null, "third"], read.Events.Select(e => e.Text));

        // The gateway retried the batch (its outcome was unknown): the same answers, nothing stored twice.
        var again = await post.ApplyAsync(changes);
        Assert.Equal(results.Select(r => r.Comment?.Id), again.Select(r => r.Comment?.Id));
        Assert.Equal(results[2].Like, again[2].Like);
        Assert.Equal(1, fixture.Writes("post", post.GetGrainId()) - writesBefore);
        Assert.Equal(4, (await feed.GetStatsAsync()).LastSeq);
        Assert.Equal(3, (await post.GetAsync())!.CommentCount);
    }
}

/// <summary>The silo's <see cref="FeedAppender"/>, with a feed the test holds back.</summary>
public sealed class FeedAppenderTests
{
    [Fact]
    public async Task EventsArrivingWhileABatchIsStoredGoTogetherInTheNext()
    {
        var batches = new List<IReadOnlyList<FeedEvent>>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long next = 0;
        var appender = new FeedAppender(async (group, events) =>
        {
            lock (batches)
            {
                batches.Add(events);
            }

            firstCalled.TrySetResult();
            await release.Task;
            return [.. events.Select(_ => Interlocked.Increment(ref next))];
        });

        var first = appender.AppendAsync(Event(1));
        await firstCalled.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var later = Enumerable.Range(2, 5).Select(i => appender.AppendAsync(Event(i))).ToList();
        Assert.False(first.IsCompleted);
        release.SetResult();

        Assert.Equal(1, await first.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        var laterSeqs = await Task.WhenAll(later).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal([2L, 3, 4, 5, 6], laterSeqs);
        Assert.Equal([1, 5], batches.Select(b => b.Count));
        Assert.Equal(["post:2", "post:3", "post:4", "post:5", "post:6"], batches[1].Select(e => e.Key));
    }

    [Fact]
    public async Task AFailedBatchFailsItsCallersAndTheNextGoesOn()
    {
        var calls = 0;
        var appender = new FeedAppender((group, events) =>
            Interlocked.Increment(ref calls) == 1
                ? Task.FromException<IReadOnlyList<long>>(new TimeoutException("storage"))
                : Task.FromResult<IReadOnlyList<long>>([.. events.Select(e => e.PostId)]));

        await Assert.ThrowsAsync<TimeoutException>(() => appender.AppendAsync(Event(7)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(8, await appender.AppendAsync(Event(8)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ARequestOfSeveralEventsIsNeverSplitAcrossBatches()
    {
        var batches = new List<int>();
        var appender = new FeedAppender((group, events) =>
        {
            lock (batches)
            {
                batches.Add(events.Count);
            }

            return Task.FromResult<IReadOnlyList<long>>([.. events.Select(e => e.PostId)]);
        });

        var big = Enumerable.Range(1, FeedAppender.MaxBatch + 10).Select(i => Event(i)).ToList();
        var seqs = await appender.AppendAsync(big).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(big.Select(e => e.PostId), seqs);
        Assert.Equal([FeedAppender.MaxBatch + 10], batches);
    }

    private static FeedEvent Event(long postId) => FeedEvent.PostCreated(postId, $"post {postId}", "alice", DateTimeOffset.UtcNow);
}
