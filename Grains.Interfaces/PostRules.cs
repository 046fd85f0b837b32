namespace BookShelf.Grains.Interfaces;

/// <summary>Limits on user-written content, shared by the grains (which enforce them) and the gateway.</summary>
public static class PostRules
{
    /// <summary>Post ids are positive and below 2^53, so JavaScript reads them exactly.</summary>
    public const long MaxPostId = 1L << 53;

    /// <summary>Longest title, in characters.</summary>
    public const int MaxTitleLength = 200;

    /// <summary>Longest body, in characters.</summary>
    public const int MaxBodyLength = 20_000;

    /// <summary>Longest comment, in characters.</summary>
    public const int MaxCommentLength = 2_000;

    /// <summary>Longest user name, in characters.</summary>
    public const int MaxUserNameLength = 32;

    /// <summary>Longest request id (what makes a retried comment or like change nothing twice).</summary>
    public const int MaxRequestIdLength = 160;

    /// <summary>Returns the problem with a draft, or null when it is valid.</summary>
    public static BookShelfValidationException? Validate(Models.PostDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        return CheckText("author", draft.Author, MaxUserNameLength)
            ?? CheckText("title", draft.Title, MaxTitleLength)
            ?? CheckText("body", draft.Body, MaxBodyLength);
    }

    /// <summary>Returns the problem with a required text field, or null when it is valid.</summary>
    public static BookShelfValidationException? CheckText(string field, string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return new BookShelfValidationException(field, $"The {field} is required.");
        }

        return value.Length > maxLength
            ? new BookShelfValidationException(field, $"The {field} must be at most {maxLength} characters.")
            : null;
    }
}
