namespace BookShelf.Gateway.Apis;

/// <summary>
/// The <c>Idempotency-Key</c> request header (IETF httpapi draft): a client's name for one intended write.
/// The same key from the same user returns the first result and never writes twice; a used key with a
/// different request is 422. The value is 1 to <see cref="MaxLength"/> visible ASCII characters, quoted as a
/// structured-field string or bare.
/// </summary>
public static class IdempotencyKey
{
    /// <summary>The header's name.</summary>
    public const string Header = "Idempotency-Key";

    /// <summary>Longest key.</summary>
    public const int MaxLength = 128;

    /// <summary>
    /// Reads the key from the header (or, for the pages' forms, from <paramref name="formValue"/>). Returns false
    /// with an error when a key is present but malformed; true with a null key when there is none.
    /// </summary>
    public static bool TryRead(HttpRequest request, string? formValue, out string? key, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        key = null;
        error = null;
        var values = request.Headers[Header];
        if (values.Count > 1)
        {
            error = $"Send one {Header} header.";
            return false;
        }

        var raw = values.Count == 1 ? values[0] : formValue;
        if (raw is null)
        {
            return true;
        }

        if (raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"')
        {
            raw = raw[1..^1];
        }

        if (raw.Length is 0 or > MaxLength || raw.Any(c => c is < '!' or > '~'))
        {
            error = $"The {Header} must be 1 to {MaxLength} visible ASCII characters.";
            return false;
        }

        key = raw;
        return true;
    }
}
