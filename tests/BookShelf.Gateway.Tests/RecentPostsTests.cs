using BookShelf.Grains.Interfaces;
using BookShelf.Grains.Interfaces.Models;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Posts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BookShelf.Gateway.Tests;

/// <summary>The gateway's memory of the newest posts: what it may answer, and when it must send the caller to the feed.</summary>
public sealed class RecentPostsTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly RecentPosts _recent;

    public RecentPostsTests() => _recent = new RecentPosts(null!, null!, _time, NullLogger<RecentPosts>.Instance);

    [Fact]
    public void AnswersOnlyOnceLiveAndCaughtUpWithTheLastProbe()
    {
        Assert.False(_recent.TryList(0, 3, out _, out _));
        _ = _recent.OnReplayAsync(Frame(1, 5), TestContext.Current.CancellationToken);
        _recent.OnSubscribed(Groups.Site, 5);
        Assert.False(_recent.TryList(0, 3, out _, out _));
        _recent.Probed(5);

        Assert.True(_recent.TryList(0, 3, out var newest, out var lastSeq));
        Assert.Equal([5L, 4, 3], newest.Select(e => e.Seq));
        Assert.Equal(5, lastSeq);
        Assert.True(_recent.TryList(3, 10, out var older, out _));
        Assert.Equal([2L, 1], older.Select(e => e.Seq));

        // The feed moved on and the events have not come: ask the feed, until they come.
        _recent.Probed(7);
        Assert.False(_recent.TryList(0, 3, out _, out _));
        _recent.OnEvent(Frame(6, 7));
        Assert.True(_recent.TryList(0, 3, out var caughtUp, out _));
        Assert.Equal([7L, 6, 5], caughtUp.Select(e => e.Seq));

        // A probe too old (the feed unreachable) is no proof of being caught up.
        _time.Advance(RecentPosts.ProbeInterval * 4);
        Assert.False(_recent.TryList(0, 3, out _, out _));
    }

    [Fact]
    public void HoldsTheNewestPostsAndSendsOlderPagesToTheFeed()
    {
        _ = _recent.OnReplayAsync(Frame(1, RecentPosts.Capacity + 50), TestContext.Current.CancellationToken);
        _recent.OnSubscribed(Groups.Site, RecentPosts.Capacity + 50);
        _recent.Probed(RecentPosts.Capacity + 50);

        Assert.True(_recent.TryList(0, 100, out var first, out _));
        Assert.Equal(Enumerable.Range(151, 100).Reverse().Select(i => (long)i), first.Select(e => e.Seq));
        Assert.True(_recent.TryList(71, 20, out var lastHeld, out _));
        Assert.Equal(51, lastHeld[^1].Seq);
        Assert.False(_recent.TryList(60, 20, out _, out _));
    }

    [Fact]
    public void EventsOutOfOrderAreNotHeldAndAResetForgetsEverything()
    {
        _ = _recent.OnReplayAsync(Frame(1, 3), TestContext.Current.CancellationToken);
        _recent.OnSubscribed(Groups.Site, 3);
        _recent.OnEvent(Frame(5, 5));
        _recent.Probed(3);
        Assert.True(_recent.TryList(0, 10, out var held, out var lastSeq));
        Assert.Equal([3L, 2, 1], held.Select(e => e.Seq));
        Assert.Equal(3, lastSeq);

        _recent.OnReset(Groups.Site, 900);
        _recent.Probed(900);
        Assert.False(_recent.TryList(0, 10, out _, out _));
    }

    [Fact]
    public async Task ACreateWaitsUntilItsPostIsHeldAndNoLonger()
    {
        _ = _recent.OnReplayAsync(Frame(1, 1), TestContext.Current.CancellationToken);
        _recent.OnSubscribed(Groups.Site, 1);

        var waiting = _recent.WaitForAsync(2, TimeSpan.FromSeconds(1));
        Assert.False(waiting.IsCompleted);
        _recent.OnEvent(Frame(2, 2));
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        var never = _recent.WaitForAsync(99, TimeSpan.FromSeconds(1));
        Assert.False(never.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));
        await never.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    private static FeedFrame Frame(int from, int to) =>
        FeedFrame.Create([.. Enumerable.Range(from, to - from + 1).Select(i => FeedEvent.PostCreated(i, $"post {i}", "alice", DateTimeOffset.UnixEpoch) with { Seq = i })]);
}
