using System.Globalization;

namespace BookShelf.Grains.Posts;

/// <summary>
/// A post's comments in pages, like a feed: the open page (at most <see cref="PageSize"/>) lives in the post's
/// state, full pages are sealed into <see cref="ICommentPageGrain"/>s (<c>{post}/{page}</c>), so a comment or a
/// like rewrites at most one page of comments, not all of them. Comment ids are 1, 2, 3, ...; page <c>p</c> holds
/// ids <c>p * PageSize + 1</c> to <c>(p + 1) * PageSize</c>. Also the rule for remembered request ids: an
/// <c>Idempotency-Key</c>'s (<c>key:</c>) until its key has stored the comment it made (<see cref="RequestGrain"/>), and a
/// gateway's own (<c>req:{unix seconds}:...</c>) from when it was made, each for as long as a late copy of its request
/// can still come (<see cref="FeedOptions.RequestRetryWindow"/>).
/// </summary>
internal sealed class PostComments(PostState state, Func<long, Task<IReadOnlyList<CommentDetails>>> loadPage, Func<long, IReadOnlyList<CommentDetails>, Task> writePage)
{
    /// <summary>Comments per sealed page.</summary>
    public const int PageSize = 50;

    private readonly Dictionary<long, IReadOnlyList<CommentDetails>> _pages = [];

    /// <summary>Comments the post has.</summary>
    public int Count => (int)(state.SealedCommentPages * PageSize) + state.Comments.Count;

    /// <summary>The comment with <paramref name="id"/> (1 to <see cref="Count"/>).</summary>
    public async Task<CommentDetails> GetAsync(long id) => (await ReadAsync(id, id))[0];

    /// <summary>Comments with ids in [<paramref name="from"/>, <paramref name="to"/>], oldest first.</summary>
    public async Task<IReadOnlyList<CommentDetails>> ReadAsync(long from, long to)
    {
        from = Math.Max(1, from);
        to = Math.Min(Count, to);
        var result = new List<CommentDetails>();
        var openStart = (state.SealedCommentPages * PageSize) + 1;
        for (var id = from; id <= to && id < openStart;)
        {
            var page = (id - 1) / PageSize;
            if (!_pages.TryGetValue(page, out var comments))
            {
                comments = await loadPage(page);
                _pages[page] = comments;
            }

            result.AddRange(comments.Where(c => c.Id >= id && c.Id <= to));
            id = ((page + 1) * PageSize) + 1;
        }

        result.AddRange(state.Comments.Where(c => c.Id >= from && c.Id <= to));
        return result;
    }

    /// <summary>
    /// Seals the open page when it is full (before a comment is added to it): the page is stored first, then the
    /// caller's next state write lets go of it; <paramref name="undo"/> puts it back if that write fails.
    /// </summary>
    public async Task<Action> SealIfFullAsync()
    {
        if (state.Comments.Count < PageSize)
        {
            return () => { };
        }

        var page = state.SealedCommentPages;
        var sealedComments = state.Comments.ToList();
        await writePage(page, sealedComments);
        _pages[page] = sealedComments;
        state.Comments.Clear();
        state.SealedCommentPages = page + 1;
        return () =>
        {
            state.Comments.InsertRange(0, sealedComments);
            state.SealedCommentPages = page;
        };
    }

    /// <summary>
    /// Forgets the request ids whose late copies can no longer come: gateway-made ones made before
    /// <paramref name="window"/>, and keys' ones let go before it.
    /// </summary>
    public void ForgetOldRequests(DateTimeOffset now, TimeSpan window)
    {
        var cutoff = (now - window).ToUnixTimeSeconds();
        foreach (var id in state.CommentRequests.Keys.Where(k => IsOlderGatewayRequest(k, cutoff)).ToList())
        {
            state.CommentRequests.Remove(id);
        }

        foreach (var (id, letGo) in state.LetGoCommentRequests.ToList())
        {
            if (letGo < cutoff || !state.CommentRequests.ContainsKey(id))
            {
                state.CommentRequests.Remove(id);
                state.LetGoCommentRequests.Remove(id);
            }
        }
    }

    /// <summary>Marks a key's request id as let go at <paramref name="now"/> (it stays until the window has passed).</summary>
    public void LetGo(string requestId, DateTimeOffset now)
    {
        if (requestId.StartsWith(RequestIds.KeyPrefix, StringComparison.Ordinal) && state.CommentRequests.ContainsKey(requestId))
        {
            state.LetGoCommentRequests.TryAdd(requestId, now.ToUnixTimeSeconds());
        }
    }

    private static bool IsOlderGatewayRequest(string requestId, long cutoff)
    {
        if (!requestId.StartsWith("req:", StringComparison.Ordinal))
        {
            return false;
        }

        var end = requestId.IndexOf(':', 4);
        return end > 4 && long.TryParse(requestId.AsSpan(4, end - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < cutoff;
    }
}
