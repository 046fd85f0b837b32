namespace BookShelf.Grains.Tests;

/// <summary>An Idempotency-Key makes any number of repeats of a write change things once.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RequestGrainTests(ClusterFixture fixture)
{
    [Fact]
    public async Task RepeatedKeyReturnsTheFirstPostAndCreatesNoOther()
    {
        var key = fixture.Grains.GetGrain<IRequestGrain>($"alice/{Guid.NewGuid():N}");
        var draft = new PostDraft("alice", "Once", "Only once.");
        var site = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site);
        var first = await key.CreatePostAsync(draft, await fixture.NewPostIdAsync());
        var before = (await site.GetStatsAsync()).LastSeq;

        var again = await key.CreatePostAsync(draft, await fixture.NewPostIdAsync());

        Assert.Equal(first, again);
        Assert.Equal(before, (await site.GetStatsAsync()).LastSeq);
        Assert.Single(await site.ReadLatestAsync(0, 500), e => e.PostId == first.Id);
    }

    [Fact]
    public async Task KeyUsedForAnotherDraftIsRefusedAndChangesNothing()
    {
        var key = fixture.Grains.GetGrain<IRequestGrain>($"alice/{Guid.NewGuid():N}");
        var first = await key.CreatePostAsync(new PostDraft("alice", "First", "body"), await fixture.NewPostIdAsync());
        var site = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site);
        var before = (await site.GetStatsAsync()).LastSeq;

        await Assert.ThrowsAsync<IdempotencyKeyReusedException>(() => key.CreatePostAsync(new PostDraft("alice", "Second", "body"), Random.Shared.NextInt64(9_000_000_000, 9_500_000_000)));
        await Assert.ThrowsAsync<IdempotencyKeyReusedException>(() => key.AddCommentAsync(first.Id, "alice", "a comment"));
        Assert.Equal(before, (await site.GetStatsAsync()).LastSeq);
    }

    [Fact]
    public async Task RepeatedCommentKeyAddsOneComment()
    {
        var post = await fixture.CreatePostAsync("commented once");
        var key = fixture.Grains.GetGrain<IRequestGrain>($"bob/{Guid.NewGuid():N}");
        var first = await key.AddCommentAsync(post.Id, "bob", "once");
        var again = await key.AddCommentAsync(post.Id, "bob", "once");
        Assert.Equal(first, again);
        Assert.Equal([first], await fixture.Grains.GetGrain<IPostGrain>(post.Id).GetCommentsAsync());
        Assert.Equal(1, (await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(post.Id)).GetStatsAsync()).LastSeq);
    }

    [Fact]
    public async Task ALateCopyOfAKeysFirstAttemptFindsItsCommentAfterTheKeyLetItGo()
    {
        var post = await fixture.CreatePostAsync("keyed comment, late copy");
        var keyName = $"bob/{Guid.NewGuid():N}";
        var first = await fixture.Grains.GetGrain<IRequestGrain>(keyName).AddCommentAsync(post.Id, "bob", "once");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);

        // The key holds its comment and has let the post's id go; a copy of its first attempt, delayed in the
        // cluster, still gets that comment (the id stays for the retry window), and nothing is added.
        await grain.ForgetCommentRequestAsync(RequestIds.KeyPrefix + keyName);
        Assert.Equal(first, await grain.AddCommentAsync("bob", "once", RequestIds.KeyPrefix + keyName));
        Assert.Equal([first], await grain.GetCommentsAsync(0, 100));
    }

    [Fact]
    public async Task AKeyThatCouldNotStoreItsCommentLeavesThePostRememberingIt()
    {
        var post = await fixture.CreatePostAsync("keyed comment, key store fails");
        var key = fixture.Grains.GetGrain<IRequestGrain>($"bob/{Guid.NewGuid():N}");
        // The key's first write (what the request is) goes through; its second (which comment it made) fails.
        var keyId = ((IAddressable)key).GetGrainId();
        fixture.InterceptNextWrite("request", keyId, async write =>
        {
            await write();
            fixture.InterceptNextWrite("request", keyId, _ => Task.FromException(new InvalidOperationException("storage is down")));
        });

        var first = await key.AddCommentAsync(post.Id, "bob", "once");
        Assert.Contains(fixture.StoredPost(post.Id).CommentRequests.Keys, k => k.StartsWith(RequestIds.KeyPrefix, StringComparison.Ordinal));
        Assert.Equal(first, await key.AddCommentAsync(post.Id, "bob", "once"));
        Assert.Equal([first], await fixture.Grains.GetGrain<IPostGrain>(post.Id).GetCommentsAsync(0, 100));
    }


    [Fact]
    public async Task RetriedToggleWithTheSameRequestIdDoesNotToggleBack()
    {
        var post = await fixture.CreatePostAsync("liked once");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        Assert.Equal(new LikeResult(true, 1), await grain.ToggleLikeAsync("bob", "req:1"));
        Assert.Equal(new LikeResult(true, 1), await grain.ToggleLikeAsync("bob", "req:1"));
        Assert.Equal(new LikeResult(false, 0), await grain.ToggleLikeAsync("bob", "req:2"));
        Assert.Equal(2, (await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(post.Id)).GetStatsAsync()).LastSeq);
    }

    [Fact]
    public async Task RetriedToggleAfterAnotherTabsToggleStillDoesNotToggleAgain()
    {
        var post = await fixture.CreatePostAsync("two tabs");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        Assert.Equal(new LikeResult(true, 1), await grain.ToggleLikeAsync("bob", "req:tab-a"));
        Assert.Equal(new LikeResult(false, 0), await grain.ToggleLikeAsync("bob", "req:tab-b"));
        // Tab A's call timed out and the gateway retries it: the first answer again, nothing toggled.
        Assert.Equal(new LikeResult(true, 1), await grain.ToggleLikeAsync("bob", "req:tab-a"));
        Assert.False(await grain.LikesAsync("bob"));
    }

    [Fact]
    public async Task RetriedCommentWithTheSameRequestIdAddsNothing()
    {
        var post = await fixture.CreatePostAsync("one comment");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        var first = await grain.AddCommentAsync("bob", "hi", "req:c1");
        Assert.Equal(first, await grain.AddCommentAsync("bob", "hi", "req:c1"));
        Assert.Single(await grain.GetCommentsAsync());
    }
}
