using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace BookShelf.Testing;

/// <summary>
/// A WebSocket client on a bare TCP socket, for tests of the protocol itself: it sends exactly the frames a test
/// builds (unmasked, fragmented, several in one write) and reads the server's frames one by one.
/// </summary>
public sealed class RawWebSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly List<byte> _pending = [];

    private RawWebSocket(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>
    /// Connects and upgrades <paramref name="pathAndQuery"/>. With <paramref name="httpFirst"/>, first sends an
    /// ordinary HTTP request on the same connection (so the upgrade is its second request).
    /// </summary>
    public static async Task<RawWebSocket> ConnectAsync(int port, string pathAndQuery = "/ws/update_notice/?groups=site", string? httpFirst = null, CancellationToken cancellationToken = default, string version = "13", IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
        var raw = new RawWebSocket(socket);
        if (httpFirst is not null)
        {
            await raw.WriteAsync(Encoding.ASCII.GetBytes($"GET {httpFirst} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"), cancellationToken);
            var head = await raw.ReadHeadAsync(cancellationToken);
            var length = int.Parse(head.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            await raw.ReadBytesAsync(length, cancellationToken);
        }

        await raw.WriteAsync(Encoding.ASCII.GetBytes($"GET {pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: {Convert.ToBase64String(Guid.NewGuid().ToByteArray())}\r\n\r\n"), cancellationToken);
        raw.UpgradeAnswer = await raw.ReadHeadAsync(cancellationToken);
        return raw;
    }

    /// <summary>The server's answer to the upgrade (status line and headers).</summary>
    public string UpgradeAnswer { get; private set; } = "";

    /// <summary>A client frame: masked (with a random key) unless told otherwise.</summary>
    public static byte[] Frame(int opcode, byte[] payload, bool fin = true, bool masked = true)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload.Length < 126)
        {
            header.Add((byte)(maskBit | payload.Length));
        }
        else
        {
            header.Add((byte)(maskBit | 126));
            header.Add((byte)(payload.Length >> 8));
            header.Add((byte)payload.Length);
        }

        var body = (byte[])payload.Clone();
        if (masked)
        {
            var key = new byte[4];
            Random.Shared.NextBytes(key);
            header.AddRange(key);
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= key[i % 4];
            }
        }

        return [.. header, .. body];
    }

    /// <summary>A masked text frame.</summary>
    public static byte[] Text(string text, bool fin = true) => Frame(0x1, Encoding.UTF8.GetBytes(text), fin);

    /// <summary>Writes raw bytes (one or several frames, in one write).</summary>
    public Task WriteAsync(byte[] bytes, CancellationToken cancellationToken = default) => _stream.WriteAsync(bytes, cancellationToken).AsTask();

    /// <summary>Reads the next server frame; null when the connection ended.</summary>
    public async Task<(int Opcode, byte[] Payload)?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        try
        {
            var head = await ReadBytesAsync(2, limit.Token);
            if (head is null)
            {
                return null;
            }

            long length = head[1] & 0x7F;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(await ReadBytesAsync(2, limit.Token) ?? throw new IOException("cut"));
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadBytesAsync(8, limit.Token) ?? throw new IOException("cut"));
            }

            var payload = await ReadBytesAsync((int)length, limit.Token) ?? throw new IOException("cut");
            return (head[0] & 0x0F, payload);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Reads frames until a text frame satisfies <paramref name="match"/> (its JSON as a string); fails on timeout or close.</summary>
    public async Task<string> ReadTextUntilAsync(Func<string, bool> match, string what)
    {
        while (true)
        {
            var frame = await ReadFrameAsync() ?? throw new IOException($"the connection ended before {what}");
            if (frame.Opcode == 0x8)
            {
                throw new IOException($"closed with {CloseCode(frame.Payload)} before {what}");
            }

            if (frame.Opcode == 0x1 && match(Encoding.UTF8.GetString(frame.Payload)) is var text && text)
            {
                return Encoding.UTF8.GetString(frame.Payload);
            }
        }
    }

    /// <summary>Reads frames until a close frame; returns its code (null if the connection ended without one).</summary>
    public async Task<int?> ReadCloseAsync()
    {
        while (await ReadFrameAsync() is { } frame)
        {
            if (frame.Opcode == 0x8)
            {
                return CloseCode(frame.Payload);
            }
        }

        return null;
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();

    private static int CloseCode(byte[] payload) => payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1005;

    private async Task<string> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            var one = await ReadBytesAsync(1, cancellationToken) ?? throw new IOException("the connection ended in the answer's head");
            head.Add(one[0]);
        }

        return Encoding.ASCII.GetString([.. head]);
    }

    private async Task<byte[]?> ReadBytesAsync(int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (_pending.Count < count)
        {
            var n = await _stream.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                return null;
            }

            _pending.AddRange(buffer.AsSpan(0, n));
        }

        var bytes = _pending.GetRange(0, count).ToArray();
        _pending.RemoveRange(0, count);
        return bytes;
    }
}
