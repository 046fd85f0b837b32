namespace BookShelf.Grains.Posts;

/// <summary>A sealed page of a post's comments (see <see cref="PostComments"/>); like a feed page, read from storage when this activation holds nothing.</summary>
public sealed class CommentPageGrain(
    [PersistentState("comments", StorageNames.Posts)] IPersistentState<CommentPageState> state) : Grain, ICommentPageGrain
{
    /// <inheritdoc />
    public async Task WriteAsync(IReadOnlyList<CommentDetails> comments)
    {
        ArgumentNullException.ThrowIfNull(comments);
        await state.ReadStateAsync();
        if (state.State.Comments.Count == comments.Count)
        {
            return;
        }

        state.State.Comments = [.. comments];
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<CommentDetails>> ReadAsync()
    {
        if (state.State.Comments.Count == 0)
        {
            await state.ReadStateAsync();
        }

        return state.State.Comments;
    }
}

/// <summary>A sealed page of comments.</summary>
[GenerateSerializer, Alias("BookShelf.CommentPageState")]
public sealed class CommentPageState
{
    /// <summary>The page's comments, oldest first.</summary>
    [Id(0)] public List<CommentDetails> Comments { get; set; } = [];
}
