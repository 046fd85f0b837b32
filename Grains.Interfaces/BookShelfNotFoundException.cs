namespace BookShelf.Grains.Interfaces;

/// <summary>The addressed post (or other entity) does not exist.</summary>
[GenerateSerializer, Alias("BookShelf.NotFoundException")]
public sealed class BookShelfNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BookShelfNotFoundException(string message) : base(message)
    {
    }
}
