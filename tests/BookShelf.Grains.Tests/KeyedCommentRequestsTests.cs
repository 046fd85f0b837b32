namespace BookShelf.Grains.Tests;

/// <summary>
/// A post rewrites every request id it holds with each change, so an <c>Idempotency-Key</c>'s id leaves it once the
/// key holds its comment and a late copy of the key's first attempt can no longer come (here after 2 s).
/// </summary>
[Collection(ShortRetryWindowClusterCollection.Name)]
public sealed class KeyedCommentRequestsTests(ShortRetryWindowClusterFixture fixture)
{
    [Fact]
    public async Task AKeyedCommentsRequestIdLeavesThePostOnceItsKeyHoldsTheComment()
    {
        var ct = TestContext.Current.CancellationToken;
        var post = await fixture.CreatePostAsync("keyed comments");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        var keys = Enumerable.Range(0, 5).Select(_ => fixture.Grains.GetGrain<IRequestGrain>($"bob/{Guid.NewGuid():N}")).ToList();
        var comments = new List<CommentDetails>();
        for (var i = 0; i < keys.Count; i++)
        {
            comments.Add(await keys[i].AddCommentAsync(post.Id, "bob", $"keyed {i}"));
        }

        // Later comments (each a write that looks for ids to forget) until the stored head holds none of the keys' ids.
        await Poll.UntilAsync(
            async () =>
            {
                await grain.AddCommentAsync("carol", "later", $"req:{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}:{Guid.NewGuid():N}");
                return !fixture.StoredPost(post.Id).CommentRequests.Keys.Any(k => k.StartsWith(RequestIds.KeyPrefix, StringComparison.Ordinal));
            },
            TimeSpan.FromSeconds(20),
            "the post's stored head without the keys' request ids",
            every: TimeSpan.FromMilliseconds(500),
            cancellationToken: ct);
        Assert.Empty(fixture.StoredPost(post.Id).LetGoCommentRequests);

        // Every key repeated, from a new activation of the post: the same comment each time, none added.
        var before = (await grain.GetCommentsAsync(0, 100)).Count;
        await fixture.DeactivateAsync(grain, ct);
        for (var i = 0; i < keys.Count; i++)
        {
            Assert.Equal(comments[i], await keys[i].AddCommentAsync(post.Id, "bob", $"keyed {i}"));
        }

        var after = await grain.GetCommentsAsync(0, 100);
        Assert.Equal(before, after.Count);
        Assert.Equal(comments, after.Take(keys.Count));
    }
}
