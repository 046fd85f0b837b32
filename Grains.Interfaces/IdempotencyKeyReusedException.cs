namespace BookShelf.Grains.Interfaces;

/// <summary>An <c>Idempotency-Key</c> that was already used for a different request (answered 422). Nothing changed.</summary>
[GenerateSerializer, Alias("BookShelf.IdempotencyKeyReusedException")]
public sealed class IdempotencyKeyReusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public IdempotencyKeyReusedException(string message) : base(message)
    {
    }
}
