using BookShelf.Gateway.Posts;
using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Gateway.Tests;

/// <summary>The gateway's group commit for a busy post, with a post the test holds back.</summary>
public sealed class PostWritesTests
{
    [Fact]
    public async Task ChangesArrivingWhileACallRunsGoTogetherInTheNext()
    {
        var batches = new List<IReadOnlyList<PostChange>>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writes = new PostWrites(async (id, changes) =>
        {
            lock (batches)
            {
                batches.Add(changes);
            }

            firstCalled.TrySetResult();
            await release.Task;
            return [.. changes.Select(c => new PostChangeResult(new CommentDetails(1, id, c.User, c.Text ?? "", DateTimeOffset.UnixEpoch), null, null, null))];
        });

        var first = writes.ApplyAsync(7, PostChange.Comment("ann", "one", "r1"));
        await firstCalled.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var later = Enumerable.Range(2, 4).Select(i => writes.ApplyAsync(7, PostChange.Comment($"u{i}", $"text {i}", $"r{i}"))).ToList();
        var otherPost = writes.ApplyAsync(8, PostChange.Comment("zed", "elsewhere", "r9"));
        Assert.False(first.IsCompleted);
        release.SetResult();

        Assert.Equal("one", (await first.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)).Comment!.Text);
        var results = await Task.WhenAll(later).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(["text 2", "text 3", "text 4", "text 5"], results.Select(r => r.Comment!.Text));
        Assert.Equal(8, (await otherPost.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)).Comment!.PostId);
        lock (batches)
        {
            Assert.Equal(4, batches.Single(b => b.Count > 1 && b[0].User == "u2").Count);
        }
    }

    [Fact]
    public async Task AFailedCallFailsItsChangesAndTheNextGoesOn()
    {
        var calls = 0;
        var writes = new PostWrites((id, changes) => Interlocked.Increment(ref calls) == 1
            ? Task.FromException<IReadOnlyList<PostChangeResult>>(new TimeoutException("cluster"))
            : Task.FromResult<IReadOnlyList<PostChangeResult>>([.. changes.Select(_ => new PostChangeResult(null, new LikeResult(true, 1), null, null))]));

        await Assert.ThrowsAsync<TimeoutException>(() => writes.ApplyAsync(1, PostChange.Like("ann", "a")).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.True((await writes.ApplyAsync(1, PostChange.Like("ann", "b")).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)).Like!.Liked);
    }
}
