using System.Reflection;
using BookShelf.Grains.Posts;
using Microsoft.Extensions.Logging.Abstractions;

namespace BookShelf.Grains.Tests;

/// <summary>The silo's outbox sweep as a plain class, with the posts it settles standing in for grains.</summary>
public sealed class OutboxSweeperTests
{
    [Fact]
    public async Task APostWhoseSettleTheClusterCancelsIsPostponedAndTheOthersAreSettled()
    {
        // Orleans fails a call that expired before a silo could place it with an OperationCanceledException (the
        // lab's silo cut from Redis): one post not settled this time, not the sweep being stopped.
        PendingEvent cancelled = new(1, "post:1"), settles = new(2, "post:2");
        var journal = new Journal([cancelled, settles]);
        var sweeper = new OutboxSweeper(PostsWhere(1, new OperationCanceledException("Message expired before placement could complete for grain post/1.")), journal,
            Microsoft.Extensions.Options.Options.Create(new FeedOptions()), TimeProvider.System, NullLogger<OutboxSweeper>.Instance);

        var settled = await sweeper.SweepAsync(TestContext.Current.CancellationToken);

        Assert.Equal(1, settled);
        Assert.Equal([cancelled], journal.Postponed);
    }

    [Fact]
    public async Task ASweepStoppedDuringASettleStopsThereAndPostponesNothing()
    {
        // The silo stopping cancels the sweep's token while a settle is out: that cancellation ends the sweep.
        using var stopping = new CancellationTokenSource();
        var journal = new Journal([new PendingEvent(1, "post:1"), new PendingEvent(2, "post:2")]);
        var factory = PostsWhere(1, null);
        ((Factory)(object)factory).OnSettle = () =>
        {
            stopping.Cancel();
            return new OperationCanceledException(stopping.Token);
        };
        var sweeper = new OutboxSweeper(factory, journal, Microsoft.Extensions.Options.Options.Create(new FeedOptions()), TimeProvider.System, NullLogger<OutboxSweeper>.Instance);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sweeper.SweepAsync(stopping.Token));
        Assert.Empty(journal.Postponed);
    }

    /// <summary>Posts that settle, except <paramref name="failing"/>, whose settle throws <paramref name="failure"/>.</summary>
    private static IGrainFactory PostsWhere(long failing, Exception? failure)
    {
        var factory = DispatchProxy.Create<IGrainFactory, Factory>();
        var made = (Factory)(object)factory;
        made.Make = id =>
        {
            var post = DispatchProxy.Create<IPostGrain, Post>();
            ((Post)(object)post).Failure = () => made.OnSettle?.Invoke() ?? (id == failing ? failure : null);
            return post;
        };
        return factory;
    }

    /// <summary>Hands out a post per id.</summary>
    public class Factory : DispatchProxy
    {
        internal Func<long, IPostGrain> Make { get; set; } = null!;

        /// <summary>When set, every settle calls it and fails with what it returns.</summary>
        internal Func<Exception?>? OnSettle { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == "GetGrain" && args is [long id, ..] ? Make(id) : throw new NotSupportedException(targetMethod?.Name);
    }

    /// <summary>A post that settles (or fails with <see cref="Failure"/>).</summary>
    public class Post : DispatchProxy
    {
        internal Func<Exception?> Failure { get; set; } = () => null;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            nameof(IPostGrain.SettleAsync) => Failure() is { } failure ? Task.FromException<bool>(failure) : Task.FromResult(true),
            _ => throw new NotSupportedException(targetMethod?.Name),
        };
    }

    private sealed class Journal(IReadOnlyList<PendingEvent> due) : IOutboxJournal
    {
        public List<PendingEvent> Postponed { get; } = [];

        public Task MarkPendingAsync(long postId, IReadOnlyList<string> eventKeys) => throw new NotSupportedException();

        public void MarkSettled(long postId, IReadOnlyList<string> eventKeys) => throw new NotSupportedException();

        public Task<IReadOnlySet<string>> PendingAsync(long postId, IReadOnlyList<string> eventKeys) => throw new NotSupportedException();

        public Task<IReadOnlyList<PendingEvent>> DueAsync(DateTimeOffset markedBefore, int max) => Task.FromResult(due);

        public Task RemoveAsync(IReadOnlyList<PendingEvent> entries) => throw new NotSupportedException();

        public Task PostponeAsync(IReadOnlyList<PendingEvent> entries)
        {
            Postponed.AddRange(entries);
            return Task.CompletedTask;
        }
    }
}
