using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace BookShelf.Gateway.Accounts;

/// <summary>
/// Reads bearer tokens: the user and session a token was issued for, or null when it is malformed, forged or expired.
/// Unprotecting a token (an HMAC check and an AES decryption) was 3.8 % of the gateway's CPU under the hot-site bench,
/// paid again on every request of the same script. So a token that unprotected once is remembered until its own
/// expiry: the answer for that exact string cannot change before then, since data protection never re-dates a token.
/// Only genuine tokens in their exact issued form are remembered (a forged one fails before it is stored), about <see cref="MaxEntries"/> at most;
/// revocation is not decided here: every request still asks the user's grain whether the session is active.
/// </summary>
internal sealed class TokenReader(ITimeLimitedDataProtector tokens, TimeProvider time)
{
    /// <summary>Tokens remembered at most; past that the memory starts again (a gateway serves far fewer live scripts).</summary>
    public const int MaxEntries = 10_000;

    /// <summary>Longer than any token this gateway issues (a user name of 32 characters makes about 250).</summary>
    public const int MaxTokenLength = 1024;

    private static readonly System.Buffers.SearchValues<char> Base64UrlCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private readonly ConcurrentDictionary<string, Verified> _verified = new(StringComparer.Ordinal);

    /// <summary>Tokens remembered now.</summary>
    public int Count => _verified.Count;

    /// <summary>The user and session <paramref name="token"/> was issued for, or null when it is malformed, forged or expired.</summary>
    public (string User, string Session)? Read(string token)
    {
        // Only the exact form Protect writes (base64url, no padding, no whitespace) is read: the decoder would accept
        // spaces or padding inside a genuine token, and each such variant would otherwise be remembered on its own.
        if (token.Length is 0 or > MaxTokenLength || token.AsSpan().ContainsAnyExcept(Base64UrlCharacters))
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (_verified.TryGetValue(token, out var known))
        {
            if (now < known.Expires)
            {
                return (known.User, known.Session);
            }

            _verified.TryRemove(token, out _);
            return null;
        }

        string payload;
        DateTimeOffset expires;
        try
        {
            payload = tokens.Unprotect(token, out expires);
        }
        catch (CryptographicException)
        {
            return null;
        }

        var newline = payload.IndexOf('\n', StringComparison.Ordinal);
        if (newline <= 0 || now >= expires)
        {
            return null;
        }

        var verified = new Verified(payload[..newline], payload[(newline + 1)..], expires);
        if (_verified.Count >= MaxEntries)
        {
            _verified.Clear();
        }

        _verified[token] = verified;
        return (verified.User, verified.Session);
    }

    private sealed record Verified(string User, string Session, DateTimeOffset Expires);
}
