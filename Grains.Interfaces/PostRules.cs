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

    /// <summary>Largest page of comments one read returns.</summary>
    public const int MaxCommentsPerRead = 100;

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

        if (value.Length > maxLength)
        {
            return new BookShelfValidationException(field, $"The {field} must be at most {maxLength} characters.");
        }

        return FindForbidden(value) is { } bad
            ? new BookShelfValidationException(field, $"The {field} contains a control or text-direction character (U+{(int)bad:X4}); remove it.")
            : null;
    }

    /// <summary>
    /// The first character no text here may hold, or null: C0 controls other than tab, line feed and carriage
    /// return (NUL, ESC of terminal escapes, ...), DEL, C1 controls, and the bidirectional embedding, override and
    /// isolate controls (U+202A–U+202E, U+2066–U+2069), which can make text read as something it is not.
    /// </summary>
    public static char? FindForbidden(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        foreach (var c in value)
        {
            if ((c < ' ' && c is not ('\t' or '\n' or '\r')) || c is >= '\u007F' and <= '\u009F' || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069')
            {
                return c;
            }
        }

        return null;
    }
}
