using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace BookShelf.Gateway.WebSockets;

/// <summary>The RFC 6455 opening handshake, server side, and the raw HTTP answers the fast path writes.</summary>
public static class WebSocketHandshake
{
    private const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>
    /// Whether the headers ask for a version-13 WebSocket: <c>Upgrade: websocket</c>, <c>Connection</c> naming
    /// <c>upgrade</c>, <c>Sec-WebSocket-Version: 13</c> and a key that is 16 bytes in base64.
    /// </summary>
    public static bool IsUpgrade(string? upgrade, string? connection, string? version, string? key) =>
        upgrade is not null && upgrade.Split(',').Any(t => t.Trim().Equals("websocket", StringComparison.OrdinalIgnoreCase))
        && connection is not null && connection.Split(',').Any(t => t.Trim().Equals("upgrade", StringComparison.OrdinalIgnoreCase))
        && version?.Trim() == "13"
        && IsValidKey(key);

    /// <summary>The <c>Sec-WebSocket-Accept</c> value for <paramref name="key"/>.</summary>
    public static string AcceptKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key.Trim() + Guid)));
    }

    /// <summary>The 101 answer, as bytes.</summary>
    public static byte[] SwitchingProtocols(string key) =>
        Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {AcceptKey(key)}\r\n\r\n");

    /// <summary>An RFC 9457 problem answer that closes the connection, as bytes.</summary>
    public static byte[] Problem(int status, string title, string detail)
    {
        var reason = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["type"] = status switch
            {
                403 => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
                429 => "https://tools.ietf.org/html/rfc6585#section-4",
                503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
                _ => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            },
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail,
        });
        var retry = status is 429 or 503 ? "Retry-After: 5\r\n" : "";
        var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: application/problem+json\r\nContent-Length: {body.Length}\r\n{retry}Connection: close\r\n\r\n");
        return [.. head, .. body];
    }

    private static bool IsValidKey(string? key)
    {
        Span<byte> decoded = stackalloc byte[24];
        return key is not null && Convert.TryFromBase64String(key.Trim(), decoded, out var length) && length == 16;
    }
}
