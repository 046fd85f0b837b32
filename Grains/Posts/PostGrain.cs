using Orleans.Runtime;
using Orleans.Streams;

namespace BookShelf.Grains.Posts;

/// <summary>
/// One post. Every change is stored together with the events it raises (the outbox) in one write; the events
/// are then published on the post-event stream and confirmed with the group's <see cref="IUpdaterGrain"/>
/// (idempotent, so the stream and the confirmation may both arrive). A change is acknowledged only after that
/// confirmation, so an acknowledged post is always in its feed even when the stream drops the event. Events
/// left in the outbox by a failure are retried on a timer and on the next activation. A new post is placed on the
/// silo of the writer that created it: one network hop less per post.
/// </summary>
[Orleans.Placement.PreferLocalPlacement]
public sealed partial class PostGrain(
    [PersistentState("post", StorageNames.Posts)] IPersistentState<PostState> state,
    IOptions<FeedOptions> options,
    TimeProvider time,
    Diagnostics.FeedMetrics metrics,
    ILogger<PostGrain> logger) : Grain, IPostGrain
{
    private IGrainTimer? _retryTimer;

    private long Id => this.GetPrimaryKeyLong();

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Outbox.Count > 0)
        {
            ScheduleRetry();
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<PostDetails> CreateAsync(PostDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        if (PostRules.Validate(draft) is { } invalid)
        {
            throw invalid;
        }

        if (Id <= 0 || Id >= PostRules.MaxPostId)
        {
            throw new BookShelfValidationException("id", "Post ids are positive integers below 2^53.");
        }

        var post = state.State;
        if (post.Exists)
        {
            // A retried create of the same draft is answered again; anything else is a conflict.
            if (post.Author == draft.Author && post.Title == draft.Title && post.Body == draft.Body)
            {
                await DeliverOutboxAsync();
                return Details();
            }

            throw new BookShelfValidationException("id", $"Post {Id} already exists.");
        }

        post.Exists = true;
        post.Author = draft.Author;
        post.Title = draft.Title;
        post.Body = draft.Body;
        post.CreatedAt = time.GetUtcNow();
        var created = new FeedEvent(0, Groups.Site, FeedEventKind.PostCreated, $"post:{Id}", Id, post.Title, post.Author, null, 0, 0, post.CreatedAt);
        await StoreAsync(created, rollback: () => state.State = new PostState());
        await DeliverOutboxAsync();
        metrics.PostCreated();
        LogCreated(logger, Id, draft.Author);
        return Details();
    }

    /// <inheritdoc />
    public Task<PostDetails?> GetAsync() => Task.FromResult(state.State.Exists ? Details() : null);

    /// <inheritdoc />
    public Task<IReadOnlyList<CommentDetails>> GetCommentsAsync()
    {
        EnsureExists();
        return Task.FromResult<IReadOnlyList<CommentDetails>>([.. state.State.Comments]);
    }

    /// <inheritdoc />
    public async Task<CommentDetails> AddCommentAsync(string author, string text)
    {
        EnsureExists();
        if ((PostRules.CheckText("author", author, PostRules.MaxUserNameLength)
             ?? PostRules.CheckText("text", text, PostRules.MaxCommentLength)) is { } invalid)
        {
            throw invalid;
        }

        var post = state.State;
        var comment = new CommentDetails(post.Comments.Count + 1, Id, author, text, time.GetUtcNow());
        post.Comments.Add(comment);
        var added = new FeedEvent(0, Groups.ForPost(Id), FeedEventKind.CommentAdded, $"comment:{Id}:{comment.Id}", Id, null, author, text, comment.Id, post.Likers.Count, comment.CreatedAt);
        await StoreAsync(added, rollback: () => post.Comments.RemoveAt(post.Comments.Count - 1));
        await DeliverOutboxAsync();
        return comment;
    }

    /// <inheritdoc />
    public async Task<LikeResult> ToggleLikeAsync(string user)
    {
        EnsureExists();
        if (PostRules.CheckText("user", user, PostRules.MaxUserNameLength) is { } invalid)
        {
            throw invalid;
        }

        var post = state.State;
        var key = user.ToLowerInvariant();
        var liked = post.Likers.Add(key);
        if (!liked)
        {
            post.Likers.Remove(key);
        }

        post.LikeChanges++;
        var changed = new FeedEvent(0, Groups.ForPost(Id), FeedEventKind.LikeChanged, $"like:{Id}:{post.LikeChanges}", Id, null, user, null, 0, post.Likers.Count, time.GetUtcNow());
        await StoreAsync(changed, rollback: () =>
        {
            post.LikeChanges--;
            if (liked)
            {
                post.Likers.Remove(key);
            }
            else
            {
                post.Likers.Add(key);
            }
        });
        await DeliverOutboxAsync();
        return new LikeResult(liked, post.Likers.Count);
    }

    /// <inheritdoc />
    public Task<bool> LikesAsync(string user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return Task.FromResult(state.State.Likers.Contains(user.ToLowerInvariant()));
    }

    private void EnsureExists()
    {
        if (!state.State.Exists)
        {
            throw new BookShelfNotFoundException($"Post {Id} does not exist.");
        }
    }

    private PostDetails Details()
    {
        var post = state.State;
        return new PostDetails(Id, post.Author, post.Title, post.Body, post.CreatedAt, post.Likers.Count, post.Comments.Count);
    }

    /// <summary>Stores the change with its event in the outbox, in one write; undoes the change in memory if the write fails.</summary>
    private async Task StoreAsync(FeedEvent feedEvent, Action rollback)
    {
        state.State.Outbox.Add(feedEvent);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State.Outbox.Remove(feedEvent);
            rollback();
            throw;
        }
    }

    /// <summary>
    /// Publishes every outbox event on the stream (best effort), confirms each with its feed (the guarantee),
    /// then clears the outbox. Throws if a feed cannot be reached; the events stay in the outbox and are retried.
    /// </summary>
    private async Task DeliverOutboxAsync()
    {
        var outbox = state.State.Outbox;
        if (outbox.Count == 0)
        {
            return;
        }

        var pending = outbox.ToArray();
        // The stream publish and the confirmation go out together: waiting for one before the other would only
        // add a round trip to every post.
        var published = PublishAsync(pending);
        try
        {
            foreach (var feedEvent in pending)
            {
                await GrainFactory.GetGrain<IUpdaterGrain>(feedEvent.Group).AppendAsync(feedEvent);
                outbox.Remove(feedEvent);
            }

            await state.WriteStateAsync();
        }
        catch (Exception ex)
        {
            LogDeliveryFailed(logger, ex, Id, outbox.Count);
            ScheduleRetry();
            throw;
        }
        finally
        {
            await published;
        }
    }

    /// <summary>Publishes events on the post-event stream, best effort (the confirmation is the guarantee).</summary>
    private async Task PublishAsync(FeedEvent[] events)
    {
        var provider = this.GetStreamProvider(StorageNames.StreamProvider);
        foreach (var feedEvent in events)
        {
            try
            {
                await provider.GetStream<FeedEvent>(StreamId.Create(StorageNames.StreamNamespace, feedEvent.Group)).OnNextAsync(feedEvent);
            }
            catch (Exception ex)
            {
                LogStreamFailed(logger, ex, Id, feedEvent.Key);
            }
        }
    }

    private void ScheduleRetry()
    {
        if (_retryTimer is not null)
        {
            return;
        }

        var interval = options.Value.OutboxRetryInterval;
        _retryTimer = this.RegisterGrainTimer(RetryAsync, new GrainTimerCreationOptions(interval, interval) { Interleave = false, KeepAlive = true });
    }

    private async Task RetryAsync(CancellationToken cancellationToken)
    {
        if (state.State.Outbox.Count > 0)
        {
            try
            {
                await DeliverOutboxAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Logged in DeliverOutboxAsync; the timer tries again.
                return;
            }
        }

        _retryTimer?.Dispose();
        _retryTimer = null;
    }

    [LoggerMessage(2001, LogLevel.Debug, "Post {PostId} created by {Author}")]
    private static partial void LogCreated(ILogger logger, long postId, string author);

    [LoggerMessage(2002, LogLevel.Debug, "Post {PostId}: stream publish of {Key} failed; the feed confirmation covers it")]
    private static partial void LogStreamFailed(ILogger logger, Exception exception, long postId, string key);

    [LoggerMessage(2003, LogLevel.Warning, "Post {PostId}: {Pending} event(s) not yet in their feeds; retrying")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, long postId, int pending);
}
