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

    /// <summary>Longest excerpt of a body that a post's feed event carries for lists, in characters (before the ellipsis).</summary>
    public const int ExcerptLength = 180;

    /// <summary>
    /// The opening of <paramref name="body"/> for lists: its first <see cref="ExcerptLength"/> characters with
    /// whitespace collapsed, cut at a word (never inside a surrogate pair) and ended with an ellipsis when cut.
    /// </summary>
    public static string Excerpt(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return "";
        }

        var text = string.Join(' ', body.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        if (text.Length <= ExcerptLength)
        {
            return text;
        }

        var cut = text.LastIndexOf(' ', ExcerptLength);
        if (cut < ExcerptLength / 2)
        {
            cut = char.IsHighSurrogate(text[ExcerptLength - 1]) ? ExcerptLength - 1 : ExcerptLength;
        }

        return text[..cut].TrimEnd() + "…";
    }

    /// <summary>Returns the problem with a draft, or null when it is valid.</summary>
    public static BookShelfValidationException? Validate(Models.PostDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        return CheckText("author", draft.Author, MaxUserNameLength)
            ?? CheckText("title", draft.Title, MaxTitleLength)
            ?? CheckText("body", draft.Body, MaxBodyLength);
    }

    /// <summary>Returns the problem with creating post <paramref name="id"/> from <paramref name="draft"/>, or null when there is none.</summary>
    public static BookShelfValidationException? ValidateCreate(long id, Models.PostDraft draft) =>
        Validate(draft) ?? (id <= 0 || id >= MaxPostId ? new BookShelfValidationException("id", "Post ids are positive integers below 2^53.") : null);

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
