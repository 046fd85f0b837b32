using BookShelf.Gateway.Options;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// What the HTTP API and the pages do with posts, as grain calls through <see cref="GrainCalls"/> (bounded per
/// attempt, retried when the cluster failed). Every write is safe to retry: a post's id is chosen before it is
/// created, comments and likes carry a request id, and an <c>Idempotency-Key</c> goes through its
/// <see cref="IRequestGrain"/>. A write whose outcome stays unknown throws, and the API answers 503 saying so.
/// </summary>
public sealed class PostService(IGrainFactory grains, GrainCalls calls, PostIds ids, RecentPosts recent, PostCountsCache counts, PostWrites writes)
{
    /// <summary>How long a create waits for this gateway to hold its post in <see cref="RecentPosts"/> (it normally already does).</summary>
    private static readonly TimeSpan SeenTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Largest page of the post list.</summary>
    public const int MaxPageSize = 100;

    /// <summary>Comments a post's page shows at once.</summary>
    public const int CommentsPerPage = 50;

    /// <summary>
    /// Posts newest first, from the site feed: those with seq below <paramref name="before"/> (0: the newest). The
    /// first pages come from this gateway's <see cref="RecentPosts"/>, the rest (or all, while it is not caught up)
    /// from the feed; counts are at most <see cref="PostCountsCache.MaxAge"/> old.
    /// </summary>
    public async Task<PostPage> ListAsync(long before, int limit) => (await ListFromAsync(before, limit)).Page;

    /// <summary>
    /// A page of the list and the site seq it is complete up to, both from the same source (memory, or the feed
    /// read position first): a page that resumes from that seq misses nothing.
    /// </summary>
    public async Task<(PostPage Page, long LastSeq)> ListFromAsync(long before, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxPageSize);
        if (!recent.TryList(before, limit, out var events, out var lastSeq))
        {
            var site = grains.GetGrain<IUpdaterGrain>(Groups.Site);
            lastSeq = (await calls.RunAsync(site.GetStatsAsync)).LastSeq;
            events = await calls.RunAsync(() => site.ReadLatestAsync(before, limit));
        }

        var postCounts = await counts.GetAsync([.. events.Select(e => e.PostId)]);
        var items = new List<PostSummary>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            items.Add(new PostSummary(e.PostId, e.Seq, e.Title ?? "", e.Author ?? "", e.At, postCounts[i]?.LikeCount ?? 0, postCounts[i]?.CommentCount ?? 0, e.Text ?? ""));
        }

        var next = items.Count == limit && items[^1].Seq > 1 ? items[^1].Seq : (long?)null;
        return (new PostPage(items, next), lastSeq);
    }

    /// <summary>Posts of the site feed one author's page looks through per request before it offers "older".</summary>
    public const int AuthorScanLimit = 1_000;

    /// <summary>
    /// <paramref name="author"/>'s posts newest first, with seq below <paramref name="before"/> (0: the newest): the
    /// site feed read newest first (the newest from memory) and filtered, looking at most
    /// <see cref="AuthorScanLimit"/> posts per call; <see cref="PostPage.NextBefore"/> continues where it stopped,
    /// so a prolific author's page is full and a rare one's pages are bounded in cost, not in what they can reach.
    /// </summary>
    public async Task<PostPage> ListByAuthorAsync(string author, long before, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxPageSize);
        var found = new List<PostSummary>();
        var scanned = 0;
        long? next = before > 0 ? before : 0;
        while (next is { } from && found.Count < limit && scanned < AuthorScanLimit)
        {
            var page = await ListAsync(from, MaxPageSize);
            scanned += page.Items.Count;
            foreach (var post in page.Items)
            {
                if (string.Equals(post.Author, author, StringComparison.OrdinalIgnoreCase))
                {
                    found.Add(post);
                    if (found.Count == limit)
                    {
                        // Continue right after the last post shown.
                        return new PostPage(found, post.Seq > 1 ? post.Seq : null);
                    }
                }
            }

            next = page.NextBefore;
        }

        return new PostPage(found, next);
    }

    /// <summary>One post, or null.</summary>
    public Task<PostDetails?> GetAsync(long id) =>
        IsId(id) ? calls.RunAsync(() => grains.GetGrain<IPostGrain>(id).GetAsync()) : Task.FromResult<PostDetails?>(null);

    /// <summary>
    /// A post with its comments and its group's seq read before them, so a page that resumes from that seq
    /// misses nothing (it may see a comment twice, and drops the repeat by id).
    /// </summary>
    public async Task<PostView?> GetViewAsync(long id, string? user, long commentsBefore = 0)
    {
        if (!IsId(id))
        {
            return null;
        }

        var lastSeq = (await calls.RunAsync(() => grains.GetGrain<IUpdaterGrain>(Groups.ForPost(id)).GetStatsAsync())).LastSeq;
        var grain = grains.GetGrain<IPostGrain>(id);
        var post = await calls.RunAsync(grain.GetAsync);
        if (post is null)
        {
            return null;
        }

        // The page shows the latest comments (new ones arrive live below them); earlier ones are a link away.
        var comments = await calls.RunAsync(() => commentsBefore > 0
            ? grain.GetLatestCommentsAsync(commentsBefore, CommentsPerPage)
            : grain.GetLatestCommentsAsync(0, CommentsPerPage));
        var liked = user is not null && await calls.RunAsync(() => grain.LikesAsync(user));
        return new PostView(post, comments, lastSeq, liked, comments.Count > 0 && comments[0].Id > 1 ? comments[0].Id : null, commentsBefore > 0);
    }

    /// <summary>Comments after <paramref name="afterId"/>, oldest first, at most <paramref name="limit"/>; null when there is no such post.</summary>
    public async Task<IReadOnlyList<CommentDetails>?> GetCommentsAsync(long id, long afterId, int limit)
    {
        if (!IsId(id) || await GetAsync(id) is null)
        {
            return null;
        }

        return await calls.RunAsync(() => grains.GetGrain<IPostGrain>(id).GetCommentsAsync(afterId, Math.Clamp(limit, 1, PostRules.MaxCommentsPerRead)));
    }

    /// <summary>
    /// Creates a post; returns once it is stored and in the site feed. With an <paramref name="idempotencyKey"/>,
    /// the key's first request decides: a repeat returns the first post, a different draft is refused.
    /// </summary>
    public async Task<PostDetails> CreateAsync(string author, string title, string body, string? idempotencyKey = null)
    {
        var draft = new PostDraft(author, title, body);
        var id = await ids.NextAsync();
        var created = await calls.RunAsync(() => idempotencyKey is null
            ? grains.PostCreator().CreateAsync(id, draft)
            : grains.GetGrain<IRequestGrain>(RequestKey(author, idempotencyKey)).CreatePostAsync(draft, id));

        // The post is in the site feed; its event reaches this gateway about when this answer does. Waiting for it
        // here means a list read through this gateway after the 201 shows the post.
        // (A repeat of an old create answers an old post, which memory may not hold: no wait then.)
        if (created.CreatedAt > DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1))
        {
            await recent.WaitForAsync(created.Id, SeenTimeout);
        }
        return created;
    }

    /// <summary>Adds a comment (throws <see cref="BookShelfNotFoundException"/> for an unknown post).</summary>
    public Task<CommentDetails> CommentAsync(long id, string author, string text, string? idempotencyKey = null)
    {
        if (!IsId(id))
        {
            throw new BookShelfNotFoundException($"Post {id} does not exist.");
        }

        return idempotencyKey is null
            ? CommentThroughBatchAsync(id, PostChange.Comment(author, text, NewRequestId()))
            : calls.RunAsync(() => grains.GetGrain<IRequestGrain>(RequestKey(author, idempotencyKey)).AddCommentAsync(id, author, text));
    }

    /// <summary>Toggles the user's like (throws <see cref="BookShelfNotFoundException"/> for an unknown post).</summary>
    public Task<LikeResult> ToggleLikeAsync(long id, string user, string? idempotencyKey = null)
    {
        if (!IsId(id))
        {
            throw new BookShelfNotFoundException($"Post {id} does not exist.");
        }

        var requestId = idempotencyKey is null ? NewRequestId() : RequestIds.KeyPrefix + RequestKey(user, idempotencyKey);
        return LikeThroughBatchAsync(id, PostChange.Like(user, requestId));
    }

    private async Task<CommentDetails> CommentThroughBatchAsync(long id, PostChange change) => (await writes.ApplyAsync(id, change)).CommentOrThrow();

    private async Task<LikeResult> LikeThroughBatchAsync(long id, PostChange change) => (await writes.ApplyAsync(id, change)).LikeOrThrow();

    /// <summary>The key of a user's <c>Idempotency-Key</c>: keys are per user.</summary>
    private static string RequestKey(string user, string idempotencyKey) => $"{user.ToLowerInvariant()}/{idempotencyKey}";

    /// <summary>A request id for a write without a key: it makes this gateway's own retries of it safe.</summary>
    private static string NewRequestId() => $"req:{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}:{Guid.NewGuid():N}";

    private static bool IsId(long id) => id > 0 && id < PostRules.MaxPostId;
}

/// <summary>A page of the post list.</summary>
public sealed record PostPage(IReadOnlyList<PostSummary> Items, long? NextBefore);

/// <summary>A post in the list; <see cref="Seq"/> is its place in the site feed.</summary>
public sealed record PostSummary(long Id, long Seq, string Title, string Author, DateTimeOffset CreatedAt, int LikeCount, int CommentCount, string Excerpt);

/// <summary>
/// A post's page: the post, a page of its comments (the latest, or those before a comment id), its group's seq when
/// read, whether the reader likes it, the id to ask for earlier comments before (null: none), and whether this is an
/// earlier page (shown without live comments).
/// </summary>
public sealed record PostView(PostDetails Post, IReadOnlyList<CommentDetails> Comments, long LastSeq, bool Liked, long? EarlierBefore, bool IsEarlierPage);
