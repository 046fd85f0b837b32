namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>Comments and likes as one-off requests (each with a request id of its own), as the gateway makes them.</summary>
public static class PostGrainCalls
{
    /// <summary>Adds a comment with a fresh request id.</summary>
    public static Task<CommentDetails> AddCommentAsync(this IPostGrain grain, string author, string text) =>
        grain.AddCommentAsync(author, text, "test:" + Guid.NewGuid().ToString("N"));

    /// <summary>The first page of comments (up to 100).</summary>
    public static Task<IReadOnlyList<CommentDetails>> GetCommentsAsync(this IPostGrain grain) => grain.GetCommentsAsync(0, 100);

    /// <summary>Toggles a like with a fresh request id.</summary>
    public static Task<LikeResult> ToggleLikeAsync(this IPostGrain grain, string user) =>
        grain.ToggleLikeAsync(user, "test:" + Guid.NewGuid().ToString("N"));
}
