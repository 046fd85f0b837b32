namespace BookShelf.Grains.Tests;

[Collection(ClusterCollection.Name)]
public sealed class PostGrainTests(ClusterFixture fixture)
{
    [Fact]
    public async Task CreatedPostReadsBackWithEveryField()
    {
        var created = await fixture.Grains.GetGrain<IPostGrain>(await fixture.NewPostIdAsync()).CreateAsync(new PostDraft("alice", "Dune", "Spice must flow."));

        Assert.InRange(created.Id, 1, PostRules.MaxPostId - 1);
        var post = await fixture.Grains.GetGrain<IPostGrain>(created.Id).GetAsync();
        Assert.NotNull(post);
        Assert.Equal(created.Id, post.Id);
        Assert.Equal("alice", post.Author);
        Assert.Equal("Dune", post.Title);
        Assert.Equal("Spice must flow.", post.Body);
        Assert.InRange(post.CreatedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(0, post.LikeCount);
        Assert.Equal(0, post.CommentCount);

        var comment = await fixture.Grains.GetGrain<IPostGrain>(created.Id).AddCommentAsync("bob", "A classic.");
        var liked = await fixture.Grains.GetGrain<IPostGrain>(created.Id).ToggleLikeAsync("bob");
        var again = await fixture.Grains.GetGrain<IPostGrain>(created.Id).GetAsync();
        Assert.True(liked.Liked);
        Assert.Equal(1, again!.LikeCount);
        Assert.Equal(1, again.CommentCount);
        var comments = await fixture.Grains.GetGrain<IPostGrain>(created.Id).GetCommentsAsync();
        Assert.Equal([comment], comments);
        Assert.Equal("A classic.", comments[0].Text);
    }

    [Fact]
    public async Task PostIdsAreUniqueAcrossWriters()
    {
        var posts = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => fixture.CreatePostAsync($"unique {i}")));
        Assert.Equal(posts.Length, posts.Select(p => p.Id).Distinct().Count());
        Assert.All(posts, p => Assert.InRange(p.Id, 1, PostRules.MaxPostId - 1));
    }

    [Theory]
    [InlineData("", "body", "title")]
    [InlineData("   ", "body", "title")]
    [InlineData("title", "", "body")]
    [InlineData(null, "body", "title")]
    public async Task BadDraftIsRejectedAndStoresNothing(string? title, string body, string field)
    {
        var before = await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site).GetStatsAsync();
        var error = await Assert.ThrowsAsync<BookShelfValidationException>(() =>
            fixture.Grains.GetGrain<IPostGrain>(Random.Shared.NextInt64(8_000_000_000, 9_000_000_000)).CreateAsync(new PostDraft("alice", title!, body)));
        Assert.Equal(field, error.Field);
        var after = await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site).GetStatsAsync();
        Assert.Equal(before.LastSeq, after.LastSeq);
    }

    [Fact]
    public async Task OversizedTitleAndBodyAreRejectedAndStoreNothing()
    {
        var id = Random.Shared.NextInt64(1_000_000_000, 2_000_000_000);
        var grain = fixture.Grains.GetGrain<IPostGrain>(id);
        var title = await Assert.ThrowsAsync<BookShelfValidationException>(() => grain.CreateAsync(new PostDraft("alice", new string('t', PostRules.MaxTitleLength + 1), "body")));
        Assert.Equal("title", title.Field);
        Assert.Contains("at most", title.Message, StringComparison.Ordinal);
        var body = await Assert.ThrowsAsync<BookShelfValidationException>(() => grain.CreateAsync(new PostDraft("alice", "title", new string('b', PostRules.MaxBodyLength + 1))));
        Assert.Equal("body", body.Field);
        Assert.Null(await grain.GetAsync());
    }

    [Fact]
    public async Task UnknownPostIsNullAndRefusesCommentsAndLikes()
    {
        var grain = fixture.Grains.GetGrain<IPostGrain>(Random.Shared.NextInt64(3_000_000_000, 4_000_000_000));
        Assert.Null(await grain.GetAsync());
        await Assert.ThrowsAsync<BookShelfNotFoundException>(() => grain.AddCommentAsync("bob", "hello"));
        await Assert.ThrowsAsync<BookShelfNotFoundException>(() => grain.ToggleLikeAsync("bob"));
        Assert.Null(await grain.GetAsync());
    }

    [Fact]
    public async Task BadCommentIsRejectedAndStoresNothing()
    {
        var post = await fixture.CreatePostAsync("commented");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        var empty = await Assert.ThrowsAsync<BookShelfValidationException>(() => grain.AddCommentAsync("bob", " "));
        Assert.Equal("text", empty.Field);
        await Assert.ThrowsAsync<BookShelfValidationException>(() => grain.AddCommentAsync("bob", new string('c', PostRules.MaxCommentLength + 1)));
        Assert.Empty(await grain.GetCommentsAsync());
        Assert.Equal(0, (await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(post.Id)).GetStatsAsync()).LastSeq);
    }

    [Fact]
    public async Task LikeTogglesOncePerUser()
    {
        var post = await fixture.CreatePostAsync("liked");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        Assert.Equal(new LikeResult(true, 1), await grain.ToggleLikeAsync("bob"));
        Assert.Equal(new LikeResult(true, 2), await grain.ToggleLikeAsync("carol"));
        Assert.Equal(new LikeResult(false, 1), await grain.ToggleLikeAsync("BOB"));
        Assert.False(await grain.LikesAsync("bob"));
        Assert.True(await grain.LikesAsync("carol"));
    }
}
