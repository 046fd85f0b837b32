namespace BookShelf.Grains.Interfaces;

/// <summary>Bad input to a grain: names the field and says what is wrong. Nothing was stored.</summary>
[GenerateSerializer, Alias("BookShelf.ValidationException")]
public sealed class BookShelfValidationException : Exception
{
    /// <summary>Creates the exception for <paramref name="field"/>.</summary>
    public BookShelfValidationException(string field, string message) : base(message) => Field = field;

    /// <summary>The offending field, in the HTTP API's spelling.</summary>
    [Id(0)]
    public string Field { get; }
}
