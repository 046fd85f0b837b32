using System.Text.RegularExpressions;

namespace BookShelf.Testing;

/// <summary>The antiforgery token a page's form carries, for tests that post forms as a browser would.</summary>
public static partial class Antiforgery
{
    /// <summary>The token in <paramref name="html"/> (empty when there is none).</summary>
    public static string TokenIn(string html) => Field().Match(html).Groups[1].Value;

    /// <summary>Loads <paramref name="path"/> and returns its form's token.</summary>
    public static async Task<string> TokenAsync(HttpClient http, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        return TokenIn(await http.GetStringAsync(new Uri(path, UriKind.Relative), cancellationToken));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex Field();
}
