using Orleans.Runtime;

namespace BookShelf.Grains.Tests;

/// <summary>
/// A post's activation is kept only while the post is in use: at a high rate of new posts, every one of them kept for
/// Orleans' default idle age (15 minutes) would hold the silos' memory at the rate times a quarter of an hour.
/// </summary>
[Collection(IdlePostsClusterCollection.Name)]
public sealed class PostActivationTests(IdlePostsClusterFixture fixture)
{
    [Fact]
    public async Task AnIdlePostsActivationGoesWithinItsIdleLifetimeAndThePostReadsBackFromStorage()
    {
        var created = await fixture.CreatePostAsync("read once, then idle");
        var post = fixture.Grains.GetGrain<IPostGrain>(created.Id);
        var comment = await post.AddCommentAsync("bob", "before it went idle");
        Assert.True(await IsActiveAsync(post), "the post is active after its writes");

        // The collector looks every second here; an idle post goes after its lifetime plus at most two looks.
        await Poll.UntilAsync(
            async () => !await IsActiveAsync(post),
            IdlePostsClusterFixture.PostIdleLifetime + TimeSpan.FromSeconds(20),
            "the idle post's activation to be collected",
            TimeSpan.FromMilliseconds(250),
            TestContext.Current.CancellationToken);

        var again = await post.GetAsync();
        Assert.NotNull(again);
        Assert.Equal(("alice", "read once, then idle", 1), (again.Author, again.Title, again.CommentCount));
        Assert.Equal([comment], await post.GetCommentsAsync());
        var second = await post.AddCommentAsync("carol", "after it came back");
        Assert.Equal(2, second.Id);
        var inFeed = (await fixture.Grains.GetGrain<IUpdaterGrain>(Groups.Site).ReadLatestAsync(0, 100)).Count(e => e.PostId == created.Id);
        Assert.Equal(1, inFeed);
    }

    [Fact]
    public async Task APostInUseKeepsItsActivationPastItsIdleLifetime()
    {
        var created = await fixture.CreatePostAsync("read all the time");
        var post = fixture.Grains.GetGrain<IPostGrain>(created.Id);
        var until = DateTime.UtcNow + (IdlePostsClusterFixture.PostIdleLifetime * 3);
        while (DateTime.UtcNow < until)
        {
            Assert.NotNull(await post.GetCountsAsync());
            Assert.True(await IsActiveAsync(post), "a post read every 200 ms stays active");
            await Task.Delay(TimeSpan.FromMilliseconds(200), TestContext.Current.CancellationToken);
        }
    }

    private async Task<bool> IsActiveAsync(IPostGrain post)
    {
        var id = post.GetGrainId();
        var stats = await fixture.Grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return stats.Any(s => s.GrainId == id);
    }
}
