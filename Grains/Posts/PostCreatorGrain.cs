using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;

namespace BookShelf.Grains.Posts;

/// <summary>
/// Creates posts without activating them (see <see cref="IPostCreatorGrain"/>): a new post is written straight into
/// its <see cref="PostGrain"/>'s storage, the way the post itself would write it — marked in the outbox journal first,
/// then stored with its event in the outbox in one write that succeeds only if no post has the id yet — then its event
/// is confirmed with the site feed before the create is acknowledged, and its copy goes to the stream through the
/// silo's <see cref="Feed.StreamCopies"/>. From there on the
/// post is an ordinary stored post: its first reader or writer activates it from storage, an unconfirmed event is
/// confirmed by that activation or by the silos' <see cref="OutboxSweeper"/>, and a repeat of the create finds the id
/// taken and lets the post answer it. An activation per new post (placement, a directory entry, a read of the missing
/// state, its collection later) was a fifth of a silo's work per post, and 6 KB of memory for two minutes.
/// One reentrant activation per silo (<see cref="PostCreators"/>).
/// </summary>
[StatelessWorker(1), Reentrant]
public sealed partial class PostCreatorGrain(
    [FromKeyedServices(StorageNames.Posts)] IGrainStorage storage,
    IOutboxJournal journal,
    Feed.FeedAppender appender,
    Feed.StreamCopies streamCopies,
    TimeProvider time,
    Diagnostics.FeedMetrics metrics,
    ILogger<PostCreatorGrain> logger) : Grain, IPostCreatorGrain
{
    /// <inheritdoc />
    public async Task<PostDetails> CreateAsync(long id, PostDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        if (PostRules.ValidateCreate(id, draft) is { } invalid)
        {
            throw invalid;
        }

        var post = GrainFactory.GetGrain<IPostGrain>(id);
        var createdAt = time.GetUtcNow();
        var created = FeedEvent.PostCreated(id, draft.Title, draft.Author, createdAt, PostRules.Excerpt(draft.Body));
        var stored = new GrainState<PostState>(new PostState
        {
            Exists = true,
            Author = draft.Author,
            Title = draft.Title,
            Body = draft.Body,
            CreatedAt = createdAt,
            Outbox = [created],
        });

        await journal.MarkPendingAsync(id, [created.Key]);
        try
        {
            // No ETag: stored only if the id holds no post yet.
            await storage.WriteStateAsync(PostGrain.StateName, post.GetGrainId(), stored);
        }
        catch (InconsistentStateException)
        {
            // The id is taken: by this create's earlier attempt (stored, then its answer was lost), or by another
            // draft. The post knows which, and confirms an event the first attempt left waiting.
            LogIdTaken(logger, id);
            return await post.CreateAsync(draft);
        }

        // The stream's copy is best effort and goes later, with others; the confirmation is the guarantee.
        streamCopies.Publish([created]);
        await appender.AppendAsync([created]);

        journal.MarkSettled(id, [created.Key]);
        metrics.PostCreated();
        LogCreated(logger, id, draft.Author);
        return new PostDetails(id, draft.Author, draft.Title, draft.Body, createdAt, 0, 0);
    }

    [LoggerMessage(2201, LogLevel.Debug, "Post {PostId} created by {Author} (not activated)")]
    private static partial void LogCreated(ILogger logger, long postId, string author);

    [LoggerMessage(2202, LogLevel.Debug, "Post {PostId}: the id is taken; the post answers the create")]
    private static partial void LogIdTaken(ILogger logger, long postId);
}
