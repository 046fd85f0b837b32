using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// What the HTTP API and the pages do with posts, as grain calls bounded by <see cref="GatewayOptions.GrainCallTimeout"/>
/// (a call that cannot finish in time fails with <see cref="TimeoutException"/>, answered as 503).
/// </summary>
public sealed class PostService(IGrainFactory grains, IOptions<GatewayOptions> options)
{
    /// <summary>Largest page of the post list.</summary>
    public const int MaxPageSize = 100;

    private TimeSpan Timeout => options.Value.GrainCallTimeout;

    /// <summary>Posts newest first, from the site feed: those with seq below <paramref name="before"/> (0: the newest).</summary>
    public async Task<PostPage> ListAsync(long before, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxPageSize);
        var events = await grains.GetGrain<IUpdaterGrain>(Groups.Site).ReadLatestAsync(before, limit).WaitAsync(Timeout);
        var posts = await Task.WhenAll(events.Select(e => grains.GetGrain<IPostGrain>(e.PostId).GetAsync())).WaitAsync(Timeout);
        var items = new List<PostSummary>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var post = posts[i];
            items.Add(new PostSummary(e.PostId, e.Seq, e.Title ?? "", e.Author ?? "", e.At, post?.LikeCount ?? 0, post?.CommentCount ?? 0));
        }

        var next = items.Count == limit && items[^1].Seq > 1 ? items[^1].Seq : (long?)null;
        return new PostPage(items, next);
    }

    /// <summary>The site feed's last seq: a list rendered now is complete up to it.</summary>
    public async Task<long> SiteLastSeqAsync() => (await grains.GetGrain<IUpdaterGrain>(Groups.Site).GetStatsAsync().WaitAsync(Timeout)).LastSeq;

    /// <summary>One post, or null.</summary>
    public Task<PostDetails?> GetAsync(long id) =>
        IsId(id) ? grains.GetGrain<IPostGrain>(id).GetAsync().WaitAsync(Timeout) : Task.FromResult<PostDetails?>(null);

    /// <summary>
    /// A post with its comments and its group's seq read before them, so a page that resumes from that seq
    /// misses nothing (it may see a comment twice, and drops the repeat by id).
    /// </summary>
    public async Task<PostView?> GetViewAsync(long id, string? user)
    {
        if (!IsId(id))
        {
            return null;
        }

        var lastSeq = (await grains.GetGrain<IUpdaterGrain>(Groups.ForPost(id)).GetStatsAsync().WaitAsync(Timeout)).LastSeq;
        var grain = grains.GetGrain<IPostGrain>(id);
        var post = await grain.GetAsync().WaitAsync(Timeout);
        if (post is null)
        {
            return null;
        }

        var comments = await grain.GetCommentsAsync().WaitAsync(Timeout);
        var liked = user is not null && await grain.LikesAsync(user).WaitAsync(Timeout);
        return new PostView(post, comments, lastSeq, liked);
    }

    /// <summary>The post's comments, or null when there is no such post.</summary>
    public async Task<IReadOnlyList<CommentDetails>?> GetCommentsAsync(long id)
    {
        if (!IsId(id) || await GetAsync(id) is null)
        {
            return null;
        }

        return await grains.GetGrain<IPostGrain>(id).GetCommentsAsync().WaitAsync(Timeout);
    }

    /// <summary>Creates a post; returns once it is stored and in the site feed.</summary>
    public Task<PostDetails> CreateAsync(string author, string title, string body) =>
        grains.GetGrain<IPostWriterGrain>(0).CreatePostAsync(new PostDraft(author, title, body)).WaitAsync(Timeout);

    /// <summary>Adds a comment (throws <see cref="BookShelfNotFoundException"/> for an unknown post).</summary>
    public Task<CommentDetails> CommentAsync(long id, string author, string text) =>
        IsId(id) ? grains.GetGrain<IPostGrain>(id).AddCommentAsync(author, text).WaitAsync(Timeout) : throw new BookShelfNotFoundException($"Post {id} does not exist.");

    /// <summary>Toggles the user's like (throws <see cref="BookShelfNotFoundException"/> for an unknown post).</summary>
    public Task<LikeResult> ToggleLikeAsync(long id, string user) =>
        IsId(id) ? grains.GetGrain<IPostGrain>(id).ToggleLikeAsync(user).WaitAsync(Timeout) : throw new BookShelfNotFoundException($"Post {id} does not exist.");

    private static bool IsId(long id) => id > 0 && id < PostRules.MaxPostId;
}

/// <summary>A page of the post list.</summary>
public sealed record PostPage(IReadOnlyList<PostSummary> Items, long? NextBefore);

/// <summary>A post in the list; <see cref="Seq"/> is its place in the site feed.</summary>
public sealed record PostSummary(long Id, long Seq, string Title, string Author, DateTimeOffset CreatedAt, int LikeCount, int CommentCount);

/// <summary>A post's page: the post, its comments, its group's seq when read, and whether the reader likes it.</summary>
public sealed record PostView(PostDetails Post, IReadOnlyList<CommentDetails> Comments, long LastSeq, bool Liked);
