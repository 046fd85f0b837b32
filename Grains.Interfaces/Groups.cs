using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// Group names: <c>site</c> (every new post) and <c>post-{id}</c> (comments and likes of one post).
/// Anything else is not a group.
/// </summary>
public static class Groups
{
    /// <summary>The site-wide group every bare WebSocket connection joins.</summary>
    public const string Site = "site";

    private const string PostPrefix = "post-";

    /// <summary>The group of one post's comments and likes.</summary>
    public static string ForPost(long postId) => PostPrefix + postId.ToString(CultureInfo.InvariantCulture);

    /// <summary>True when <paramref name="name"/> is the site group or a well-formed post group.</summary>
    public static bool IsValid([NotNullWhen(true)] string? name) =>
        name == Site || TryGetPostId(name, out _);

    /// <summary>Reads the post id out of a <c>post-{id}</c> group name.</summary>
    public static bool TryGetPostId([NotNullWhen(true)] string? name, out long postId)
    {
        postId = 0;
        if (name is null || !name.StartsWith(PostPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var digits = name.AsSpan(PostPrefix.Length);
        // Canonical form only: no sign, no leading zero, at most 16 digits (ids are below 2^53).
        if (digits.Length is 0 or > 16 || digits[0] == '0')
        {
            return false;
        }

        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        postId = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        return postId < PostRules.MaxPostId;
    }
}
