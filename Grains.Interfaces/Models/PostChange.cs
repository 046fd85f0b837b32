namespace BookShelf.Grains.Interfaces.Models;

/// <summary>
/// One reader's change to a post, as the gateway batches them (<c>IPostGrain.ApplyAsync</c>): a comment by
/// <see cref="User"/> with <see cref="Text"/>, or a toggle of <see cref="User"/>'s like. <see cref="RequestId"/>
/// makes a retry of it change nothing twice.
/// </summary>
[GenerateSerializer, Immutable, Alias("BookShelf.PostChange")]
public sealed record PostChange(
    [property: Id(0)] bool IsComment,
    [property: Id(1)] string User,
    [property: Id(2)] string? Text,
    [property: Id(3)] string RequestId)
{
    /// <summary>A comment.</summary>
    public static PostChange Comment(string author, string text, string requestId) => new(true, author, text, requestId);

    /// <summary>A like toggle.</summary>
    public static PostChange Like(string user, string requestId) => new(false, user, null, requestId);
}

/// <summary>
/// What one <see cref="PostChange"/> came to: the comment, or the like's outcome, or why it was refused
/// (<see cref="InvalidField"/> and <see cref="Error"/>; nothing of it was stored).
/// </summary>
[GenerateSerializer, Immutable, Alias("BookShelf.PostChangeResult")]
public sealed record PostChangeResult(
    [property: Id(0)] CommentDetails? Comment,
    [property: Id(1)] LikeResult? Like,
    [property: Id(2)] string? InvalidField,
    [property: Id(3)] string? Error)
{
    /// <summary>The comment, or the refusal as the exception the single-change calls throw.</summary>
    public CommentDetails CommentOrThrow() => Comment ?? throw Refusal();

    /// <summary>The like's outcome, or the refusal as the exception the single-change calls throw.</summary>
    public LikeResult LikeOrThrow() => Like ?? throw Refusal();

    private BookShelfValidationException Refusal() => new(InvalidField ?? "request", Error ?? "The change was refused.");
}
