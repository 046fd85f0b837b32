using System.Diagnostics.Metrics;
using BookShelf.Grains.Posts;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace BookShelf.Grains.Tests;

/// <summary>
/// New posts are stored without activating their grain, with every guarantee a post's own create gives: stored and
/// in the site feed exactly once before the answer, a repeat answered the same, a used id refused, and an activation
/// that read the id before it was created finding the post afterwards.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PostCreatorTests(ClusterFixture fixture)
{
    private IPostCreatorGrain Creator => fixture.Grains.PostCreator();

    [Fact]
    public async Task ACreatedPostIsInTheSiteFeedOnceAndIsNotActivatedUntilSomeoneReadsIt()
    {
        var id = await fixture.NewPostIdAsync();
        var draft = new PostDraft("alice", "Not activated", "A post stored straight into its grain's storage.");

        var created = await Creator.CreateAsync(id, draft);

        Assert.Equal((id, "alice", "Not activated", 0, 0), (created.Id, created.Author, created.Title, created.LikeCount, created.CommentCount));
        Assert.Equal(1, await TimesInSiteFeedAsync(id));
        Assert.DoesNotContain(fixture.Journal.Pending, p => p.PostId == id);
        var post = fixture.Grains.GetGrain<IPostGrain>(id);
        Assert.DoesNotContain(post.GetGrainId(), await ActivePostsAsync());

        var read = await post.GetAsync();
        Assert.Equal(created with { }, read);
        Assert.Contains(post.GetGrainId(), await ActivePostsAsync());
        Assert.Equal(1, (await post.AddCommentAsync("bob", "first", Guid.NewGuid().ToString("N"))).Id);
    }

    [Fact]
    public async Task EachNewPostsEventAlsoGoesOnTheStreamAndTheFeedTakesThatCopyForTheSameEvent()
    {
        // The stream carries a copy of each new post's event (the confirmation is the guarantee): whichever of the two
        // reaches the site feed second is a repeat there, so the site feed counts one repeat per post.
        long repeats = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Diagnostics.FeedMetrics.MeterName && instrument.Name == "bookshelf.feed.repeats")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "group.kind", Value: "site" })
                {
                    Interlocked.Add(ref repeats, value);
                }
            }
        });
        listener.Start();
        const int Posts = 20;

        await Task.WhenAll(Enumerable.Range(0, Posts).Select(i => fixture.CreatePostAsync($"streamed {i}")));

        await Poll.UntilAsync(() => Task.FromResult(Interlocked.Read(ref repeats) >= Posts), TimeSpan.FromSeconds(30),
            $"the stream copies of {Posts} new posts to reach the site feed", cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task ARepeatedCreateAnswersTheSamePostAndAddsNothingAndADifferentDraftIsRefused()
    {
        var id = await fixture.NewPostIdAsync();
        var draft = new PostDraft("alice", "Twice", "The same create, sent again after its answer was lost.");
        var first = await Creator.CreateAsync(id, draft);

        var again = await Creator.CreateAsync(id, draft);
        var refused = await Assert.ThrowsAsync<BookShelfValidationException>(() => Creator.CreateAsync(id, draft with { Title = "Another" }));

        Assert.Equal(first, again);
        Assert.Equal("id", refused.Field);
        Assert.Equal(1, await TimesInSiteFeedAsync(id));
        Assert.Equal("Twice", (await fixture.Grains.GetGrain<IPostGrain>(id).GetAsync())?.Title);
    }

    [Fact]
    public async Task AnActivationThatFoundNoPostFindsItOnceItIsCreated()
    {
        var id = await fixture.NewPostIdAsync();
        var post = fixture.Grains.GetGrain<IPostGrain>(id);
        // Activated by a read of the id before the post exists; this call keeps the activation (a missing post's Get lets it go).
        Assert.False(await post.LikesAsync("carol"));
        Assert.Contains(post.GetGrainId(), await ActivePostsAsync());

        var created = await Creator.CreateAsync(id, new PostDraft("alice", "Found", "Created while an activation thought it missing."));

        Assert.Equal(created, await post.GetAsync());
        Assert.Equal(1, (await post.AddCommentAsync("bob", "still there", Guid.NewGuid().ToString("N"))).Id);
    }

    [Fact]
    public async Task AStoredCreateWhoseFeedNeverConfirmedItIsConfirmedByItsRepeat()
    {
        // What a silo that died between storing a new post and confirming it leaves: the post with its event in the
        // outbox, and the journal's mark.
        var id = await fixture.NewPostIdAsync();
        var draft = new PostDraft("alice", "Left waiting", "Stored, then the silo died.");
        var at = DateTimeOffset.UtcNow.AddSeconds(-1);
        var waiting = FeedEvent.PostCreated(id, draft.Title, draft.Author, at, PostRules.Excerpt(draft.Body));
        // Marked in the future, so the sweep leaves it alone here: only the repeat can confirm it.
        fixture.Journal.Add(id, waiting.Key, DateTimeOffset.UtcNow.AddMinutes(10));
        var grainId = fixture.Grains.GetGrain<IPostGrain>(id).GetGrainId();
        var serializer = fixture.Cluster.Client.ServiceProvider.GetRequiredService<Serializer>();
        var stored = new PostState { Exists = true, Author = draft.Author, Title = draft.Title, Body = draft.Body, CreatedAt = at, Outbox = [waiting] };
        Assert.True(fixture.Store.TryAdd($"post|{grainId}", (serializer.SerializeToArray(stored), Guid.NewGuid().ToString("N"))));

        var answer = await Creator.CreateAsync(id, draft);

        Assert.Equal((id, at), (answer.Id, answer.CreatedAt));
        Assert.Equal(1, await TimesInSiteFeedAsync(id));
        await Poll.UntilAsync(() => Task.FromResult(!fixture.Journal.Pending.Any(p => p.PostId == id)), TimeSpan.FromSeconds(10), $"post {id}'s journal mark to be cleared", cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task ACreateWhoseWriteLandsAfterTheSweepLetGoOfItsMarkStillReachesTheFeed()
    {
        // A create's write held up (a slow Redis) past the sweep's grace: the sweep finds the mark and no post. Then the
        // write lands, and its answer is lost, so the create fails. A post stored without its mark would never reach
        // its feed (an activation takes an unmarked event for a confirmed one).
        var id = await fixture.NewPostIdAsync();
        var post = fixture.Grains.GetGrain<IPostGrain>(id);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.InterceptNextWrite(PostGrain.StateName, post.GetGrainId(), async write =>
        {
            await release.Task;
            await write();
            throw new TimeoutException("The write was stored, but its answer was lost.");
        });
        var cancel = TestContext.Current.CancellationToken;

        var create = Creator.CreateAsync(id, new PostDraft("alice", "Held up", "Its write waits while the sweep looks."));
        await Poll.UntilAsync(() => Task.FromResult(fixture.Journal.Pending.Any(p => p.PostId == id)), TimeSpan.FromSeconds(10), $"post {id}'s journal mark", cancellationToken: cancel);
        await Poll.UntilAsync(() => Task.FromResult(!fixture.Journal.Pending.Any(p => p.PostId == id)), TimeSpan.FromSeconds(20), $"the sweep to settle post {id}'s mark while its write is held", cancellationToken: cancel);
        release.SetResult();
        var failure = await Record.ExceptionAsync(() => create);

        // Whatever the create answered, a stored post is in its feed, once.
        await Poll.UntilAsync(async () => await post.GetAsync() is null || await TimesInSiteFeedAsync(id) > 0, fixture.SweepBound + TimeSpan.FromSeconds(10),
            $"post {id} (create {(failure is null ? "succeeded" : "failed: " + failure.Message)}) to be in the site feed or not stored", cancellationToken: cancel);
        Assert.True(failure is not null || await post.GetAsync() is not null, "the create succeeded, yet no post is stored");
        Assert.Equal(await post.GetAsync() is null ? 0 : 1, await TimesInSiteFeedAsync(id));
    }

    [Fact]
    public async Task AnInvalidCreateIsRefusedAndStoresNothing()
    {
        var id = await fixture.NewPostIdAsync();

        var blank = await Assert.ThrowsAsync<BookShelfValidationException>(() => Creator.CreateAsync(id, new PostDraft("alice", " ", "body")));
        var badId = await Assert.ThrowsAsync<BookShelfValidationException>(() => Creator.CreateAsync(-id, new PostDraft("alice", "title", "body")));

        Assert.Equal(("title", "id"), (blank.Field, badId.Field));
        Assert.False(fixture.Store.ContainsKey($"post|{fixture.Grains.GetGrain<IPostGrain>(id).GetGrainId()}"));
        Assert.Null(await fixture.Grains.GetGrain<IPostGrain>(id).GetAsync());
    }

    private async Task<int> TimesInSiteFeedAsync(long id)
    {
        var latest = await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site).ReadLatestAsync(0, 500);
        return latest.Count(e => e.Kind == FeedEventKind.PostCreated && e.PostId == id);
    }

    private async Task<List<Orleans.Runtime.GrainId>> ActivePostsAsync() =>
        await fixture.Grains.GetGrain<IManagementGrain>(0).GetActiveGrains(fixture.Grains.GetGrain<IPostGrain>(1).GetGrainId().Type);
}
