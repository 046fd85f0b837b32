namespace BookShelf.Grains.Tests;

/// <summary>A post's comments live in pages: a comment rewrites one page, reads page, the count is capped.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CommentPagesTests(ClusterFixture fixture)
{
    [Fact]
    public async Task CommentsArePagedAndReadBackInOrderAfterReactivation()
    {
        var post = await fixture.CreatePostAsync("many comments");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        var first = await grain.AddCommentAsync("bob", "comment 1", "key:bob/first");
        for (var n = 2; n <= 120; n++)
        {
            await grain.AddCommentAsync("bob", $"comment {n}");
        }

        // Two sealed pages of 50; the post itself holds only the open page.
        var stored = fixture.StoredPost(post.Id);
        Assert.Equal(2, stored.SealedCommentPages);
        Assert.Equal(20, stored.Comments.Count);

        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), (await grain.GetCommentsAsync(0, 100)).Select(c => c.Id));
        Assert.Equal(Enumerable.Range(101, 20).Select(i => (long)i), (await grain.GetCommentsAsync(100, 100)).Select(c => c.Id));
        Assert.Equal(Enumerable.Range(71, 50).Select(i => (long)i), (await grain.GetLatestCommentsAsync(0, 50)).Select(c => c.Id));
        Assert.Equal(Enumerable.Range(21, 50).Select(i => (long)i), (await grain.GetLatestCommentsAsync(71, 50)).Select(c => c.Id));
        Assert.Equal(120, (await grain.GetAsync())!.CommentCount);

        // A keyed request's repeat, 119 comments later, still returns the first comment and adds nothing.
        Assert.Equal(first, await grain.AddCommentAsync("bob", "comment 1", "key:bob/first"));
        Assert.Equal(120, (await grain.GetAsync())!.CommentCount);
    }

    [Fact]
    public async Task CommentsPastTheCapAreRefusedAndStoreNothing()
    {
        var post = await fixture.CreatePostAsync("capped");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        for (var n = 1; n <= fixture.MaxCommentsPerPost; n++)
        {
            await grain.AddCommentAsync("bob", $"comment {n}");
        }

        var refused = await Assert.ThrowsAsync<BookShelfValidationException>(() => grain.AddCommentAsync("bob", "one too many"));
        Assert.Contains("limit", refused.Message, StringComparison.Ordinal);
        Assert.Equal(fixture.MaxCommentsPerPost, (await grain.GetAsync())!.CommentCount);
        Assert.Equal(fixture.MaxCommentsPerPost, (await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(post.Id)).GetStatsAsync()).LastSeq);
    }

    [Fact]
    public void GatewayRequestIdsAreForgottenAfterTheRetryWindowAndKeysAreKept()
    {
        var state = new Posts.PostState();
        var now = DateTimeOffset.UtcNow;
        state.CommentRequests["key:bob/1"] = 1;
        state.CommentRequests[$"req:{now.AddMinutes(-11).ToUnixTimeSeconds()}:old"] = 2;
        state.CommentRequests[$"req:{now.AddMinutes(-1).ToUnixTimeSeconds()}:recent"] = 3;
        state.CommentRequests["key:bob/2"] = 4;
        state.CommentRequests["key:bob/3"] = 5;
        var comments = new Posts.PostComments(state, _ => throw new InvalidOperationException(), (_, _) => throw new InvalidOperationException());

        // Keys' ids stay until their keys let them go, and then for the window.
        comments.LetGo("key:bob/2", now.AddMinutes(-3));
        comments.LetGo("key:bob/3", now.AddMinutes(-1));
        comments.LetGo("key:bob/unknown", now.AddMinutes(-3));
        comments.LetGo($"req:{now.AddMinutes(-1).ToUnixTimeSeconds()}:recent", now.AddMinutes(-3));
        comments.ForgetOldRequests(now, TimeSpan.FromMinutes(2));
        Assert.Equal(["key:bob/1", "key:bob/3", $"req:{now.AddMinutes(-1).ToUnixTimeSeconds()}:recent"], state.CommentRequests.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["key:bob/3"], state.LetGoCommentRequests.Keys);
    }
}
