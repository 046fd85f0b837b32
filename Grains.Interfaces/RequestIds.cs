namespace BookShelf.Grains.Interfaces;

/// <summary>
/// The request ids a write carries so that its retries change nothing twice: a gateway makes its own
/// (<c>req:{unix seconds}:{guid}</c>) for a write without an <c>Idempotency-Key</c>; a key's are
/// <see cref="KeyPrefix"/> followed by the user and the key.
/// </summary>
public static class RequestIds
{
    /// <summary>The start of a request id made from a user's <c>Idempotency-Key</c>.</summary>
    public const string KeyPrefix = "key:";
}
