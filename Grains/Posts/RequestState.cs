namespace BookShelf.Grains.Posts;

/// <summary>What an <c>Idempotency-Key</c> was first used for.</summary>
[GenerateSerializer, Alias("BookShelf.RequestState")]
public sealed class RequestState
{
    /// <summary>A digest of the first request (operation, target and content); empty while the key is unused.</summary>
    [Id(0)] public string Fingerprint { get; set; } = "";

    /// <summary>The post the first request created or commented on.</summary>
    [Id(1)] public long PostId { get; set; }

    /// <summary>The comment a comment request made, once this key has stored it (0 before): a repeat reads it back.</summary>
    [Id(2)] public long CommentId { get; set; }
}
