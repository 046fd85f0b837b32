using Orleans.Runtime;

namespace BookShelf.Grains.Posts;

/// <summary>
/// One post. Every change is stored together with the events it raises (the outbox) in one write, after the
/// events are marked in the <see cref="IOutboxJournal"/>; the events are then confirmed with the group's
/// <see cref="IUpdaterGrain"/> and their copies go to the post-event stream (appends are exactly idempotent, so the
/// stream copy and the confirmation may both arrive, at any time). A change is acknowledged only after that
/// confirmation, so an acknowledged post is always in its feed even when the stream drops the event. Events
/// left in the outbox by a failure are retried on a timer, at the next activation, and by the silos'
/// <see cref="OutboxSweeper"/> when no one activates the post. Creates, comments and likes take a request id,
/// so a retry of a call whose outcome was unknown changes nothing twice.
/// </summary>
[Orleans.Placement.PreferLocalPlacement]
public sealed partial class PostGrain(
    [PersistentState(PostGrain.StateName, StorageNames.Posts)] IPersistentState<PostState> state,
    IOutboxJournal journal,
    Feed.FeedAppender appender,
    Feed.StreamCopies streamCopies,
    IOptions<FeedOptions> options,
    TimeProvider time,
    Diagnostics.FeedMetrics metrics,
    ILogger<PostGrain> logger) : Grain, IPostGrain
{
    /// <summary>The name of a post's state in storage (<see cref="PostCreatorGrain"/> writes it too).</summary>
    internal const string StateName = "post";

    /// <summary>Like requests remembered per user (a retry comes within seconds; a few toggles from other tabs may come between).</summary>
    private const int RememberedLikeRequests = 8;

    private IGrainTimer? _retryTimer;
    private bool _freshOutbox;
    private PostComments? _comments;

    private long Id => this.GetPrimaryKeyLong();

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await DropConfirmedAsync();
        if (state.State.Outbox.Count > 0)
        {
            ScheduleRetry();
        }
    }

    /// <inheritdoc />
    public async Task<PostDetails> CreateAsync(PostDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        if (PostRules.ValidateCreate(Id, draft) is { } invalid)
        {
            throw invalid;
        }

        var exists = await ExistsAsync();
        var post = state.State;
        if (exists)
        {
            // A retried create of the same draft is answered again; anything else is a conflict.
            if (post.Author == draft.Author && post.Title == draft.Title && post.Body == draft.Body)
            {
                await DeliverOutboxAsync();
                return AsCreated();
            }

            throw new BookShelfValidationException("id", $"Post {Id} already exists.");
        }

        post.Exists = true;
        post.Author = draft.Author;
        post.Title = draft.Title;
        post.Body = draft.Body;
        post.CreatedAt = time.GetUtcNow();
        await StoreAsync([FeedEvent.PostCreated(Id, post.Title, post.Author, post.CreatedAt, PostRules.Excerpt(post.Body))], rollback: () =>
        {
            state.State = new PostState();
            _comments = null;
        });
        await DeliverOutboxAsync();
        metrics.PostCreated();
        LogCreated(logger, Id, draft.Author);
        return AsCreated();
    }

    /// <inheritdoc />
    public async Task<PostDetails?> GetAsync()
    {
        if (!await ExistsAsync())
        {
            // A made-up id: do not keep an activation for it.
            DeactivateOnIdle();
            return null;
        }

        return Details();
    }

    /// <inheritdoc />
    public Task<PostCounts?> GetCountsAsync()
    {
        // Read-only calls interleave with each other, so this one does not read storage again (see ExistsAsync): a list
        // shows no counts (0 and 0, right for a new post) for a post this activation missed, and the activation goes.
        if (!state.State.Exists)
        {
            DeactivateOnIdle();
            return Task.FromResult<PostCounts?>(null);
        }

        return Task.FromResult<PostCounts?>(new PostCounts(state.State.Likers.Count, Comments.Count));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<CommentDetails>> GetCommentsAsync(long afterId, int max)
    {
        await EnsureExistsAsync();
        max = Math.Clamp(max, 0, PostRules.MaxCommentsPerRead);
        return await Comments.ReadAsync(Math.Max(0, afterId) + 1, Math.Max(0, afterId) + max);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<CommentDetails>> GetLatestCommentsAsync(long beforeId, int max)
    {
        await EnsureExistsAsync();
        max = Math.Clamp(max, 0, PostRules.MaxCommentsPerRead);
        var to = beforeId <= 0 ? Comments.Count : Math.Min(Comments.Count, beforeId - 1);
        return await Comments.ReadAsync(to - max + 1, to);
    }

    private PostComments Comments => _comments ??= new PostComments(
        state.State,
        page => GrainFactory.GetGrain<ICommentPageGrain>(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Id}/{page}")).ReadAsync(),
        (page, comments) => GrainFactory.GetGrain<ICommentPageGrain>(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Id}/{page}")).WriteAsync(comments));

    /// <inheritdoc />
    public async Task<CommentDetails> AddCommentAsync(string author, string text, string requestId) =>
        (await ApplyAsync([PostChange.Comment(author, text, requestId)]))[0].CommentOrThrow();

    /// <inheritdoc />
    public Task ForgetCommentRequestAsync(string requestId)
    {
        // Kept until a late copy of the key's first attempt can no longer arrive; stored with the post's next write.
        if (requestId is not null)
        {
            Comments.LetGo(requestId, time.GetUtcNow());
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<LikeResult> ToggleLikeAsync(string user, string requestId) =>
        (await ApplyAsync([PostChange.Like(user, requestId)]))[0].LikeOrThrow();

    /// <inheritdoc />
    public async Task<IReadOnlyList<PostChangeResult>> ApplyAsync(IReadOnlyList<PostChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        await EnsureExistsAsync();
        var results = new PostChangeResult[changes.Count];
        var events = new List<FeedEvent>();
        var rollbacks = new List<Action>();
        if (changes.Any(c => c?.IsComment == true))
        {
            // Once per batch: it scans every remembered request id.
            Comments.ForgetOldRequests(time.GetUtcNow(), options.Value.RequestRetryWindow);
        }

        for (var i = 0; i < changes.Count; i++)
        {
            try
            {
                var change = changes[i] ?? throw new BookShelfValidationException("change", "A change is missing.");
                results[i] = change.IsComment
                    ? new PostChangeResult(await ApplyCommentAsync(change, events, rollbacks), null, null, null)
                    : new PostChangeResult(null, ApplyLike(change, events, rollbacks), null, null);
            }
            catch (BookShelfValidationException invalid)
            {
                results[i] = new PostChangeResult(null, null, invalid.Field, invalid.Message);
            }
        }

        if (events.Count > 0)
        {
            await StoreAsync(events, rollback: () =>
            {
                for (var r = rollbacks.Count - 1; r >= 0; r--)
                {
                    rollbacks[r]();
                }
            });
        }

        await DeliverOutboxAsync();
        return results;
    }

    /// <summary>Adds a comment in memory (its event and undo appended to the lists), or answers a repeat of its request.</summary>
    private async Task<CommentDetails> ApplyCommentAsync(PostChange change, List<FeedEvent> events, List<Action> rollbacks)
    {
        if ((PostRules.CheckText("author", change.User, PostRules.MaxUserNameLength)
             ?? PostRules.CheckText("text", change.Text, PostRules.MaxCommentLength)
             ?? PostRules.CheckText("requestId", change.RequestId, PostRules.MaxRequestIdLength)) is { } invalid)
        {
            throw invalid;
        }

        var post = state.State;
        if (post.CommentRequests.TryGetValue(change.RequestId, out var done))
        {
            // The same request again (a retry after an unknown outcome): answer it again, add nothing.
            return await Comments.GetAsync(done);
        }

        if (Comments.Count >= options.Value.MaxCommentsPerPost)
        {
            throw new BookShelfValidationException("text", $"This post has reached its limit of {options.Value.MaxCommentsPerPost} comments.");
        }

        var unseal = await Comments.SealIfFullAsync();
        var comment = new CommentDetails(Comments.Count + 1, Id, change.User, change.Text!, time.GetUtcNow());
        post.Comments.Add(comment);
        post.CommentRequests[change.RequestId] = comment.Id;
        events.Add(FeedEvent.CommentAdded(Id, comment.Id, change.User, comment.Text, post.Likers.Count, comment.CreatedAt));
        rollbacks.Add(() =>
        {
            post.Comments.RemoveAt(post.Comments.Count - 1);
            post.CommentRequests.Remove(change.RequestId);
            unseal();
        });
        return comment;
    }

    /// <summary>Toggles a like in memory (its event and undo appended to the lists), or answers a repeat of its request.</summary>
    private LikeResult ApplyLike(PostChange change, List<FeedEvent> events, List<Action> rollbacks)
    {
        if ((PostRules.CheckText("user", change.User, PostRules.MaxUserNameLength)
             ?? PostRules.CheckText("requestId", change.RequestId, PostRules.MaxRequestIdLength)) is { } invalid)
        {
            throw invalid;
        }

        var post = state.State;
        var key = change.User.ToLowerInvariant();
        var recent = post.LikeRequests.TryGetValue(key, out var list) ? list : null;
        if (recent?.Find(r => r.RequestId == change.RequestId) is { } done)
        {
            return new LikeResult(done.Liked, done.LikeCount);
        }

        var liked = post.Likers.Add(key);
        if (!liked)
        {
            post.Likers.Remove(key);
        }

        post.LikeChanges++;
        var remembered = recent is null ? [] : new List<LastLike>(recent);
        remembered.Add(new LastLike(change.RequestId, liked, post.Likers.Count));
        if (remembered.Count > RememberedLikeRequests)
        {
            remembered.RemoveAt(0);
        }

        post.LikeRequests[key] = remembered;
        events.Add(FeedEvent.LikeChanged(Id, post.LikeChanges, change.User, post.Likers.Count, time.GetUtcNow()));
        rollbacks.Add(() =>
        {
            post.LikeChanges--;
            if (recent is null)
            {
                post.LikeRequests.Remove(key);
            }
            else
            {
                post.LikeRequests[key] = recent;
            }

            if (liked)
            {
                post.Likers.Remove(key);
            }
            else
            {
                post.Likers.Add(key);
            }
        });
        return new LikeResult(liked, post.Likers.Count);
    }

    /// <inheritdoc />
    public Task<bool> LikesAsync(string user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return Task.FromResult(state.State.Likers.Contains(user.ToLowerInvariant()));
    }

    private async Task EnsureExistsAsync()
    {
        if (!await ExistsAsync())
        {
            throw new BookShelfNotFoundException($"Post {Id} does not exist.");
        }
    }

    /// <summary>
    /// Whether the post exists, never answering "no post" from memory: posts are created without being activated
    /// (<see cref="PostCreatorGrain"/>), so an activation made by a read of the id before its create was stored (a
    /// guess, or a retry racing the first attempt) would otherwise keep answering "no such post" after the 201. It
    /// costs a second read only for ids that hold no post.
    /// </summary>
    private async Task<bool> ExistsAsync()
    {
        if (!state.State.Exists)
        {
            await state.ReadStateAsync();
            _comments = null;
            await DropConfirmedAsync();
            if (state.State.Outbox.Count > 0)
            {
                ScheduleRetry();
            }
        }

        return state.State.Exists;
    }

    /// <summary>The post as its create answered it (a retried create gets the same answer, whatever came since).</summary>
    private PostDetails AsCreated() => Details() with { LikeCount = 0, CommentCount = 0 };

    private PostDetails Details()
    {
        var post = state.State;
        return new PostDetails(Id, post.Author, post.Title, post.Body, post.CreatedAt, post.Likers.Count, Comments.Count);
    }

    [LoggerMessage(2001, LogLevel.Debug, "Post {PostId} created by {Author}")]
    private static partial void LogCreated(ILogger logger, long postId, string author);
}
