using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace BookShelf.Bench.Worker;

/// <summary>
/// A lean WebSocket client on a raw socket, so the load tool's own cost per delivery stays small: it does the
/// upgrade by hand, reads unmasked server frames, answers pings, and hands each delivered post id to the
/// <see cref="DeliveryLog"/> with the time it arrived.
/// </summary>
public sealed class FeedConnection
{
    private static readonly byte[] SignalRHandshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] NewIdKey = Encoding.UTF8.GetBytes("\"new_id\":");
    private static readonly byte[] CommentIdKey = Encoding.UTF8.GetBytes("\"comment_id\":");
    private static readonly byte[] SeqKey = Encoding.UTF8.GetBytes("\"seq\":");
    private static readonly byte[] GroupKey = Encoding.UTF8.GetBytes("\"group\":\"");
    private Dictionary<string, long>? _groupSeqs;

    private readonly int _index;
    private readonly WireProtocol _protocol;
    private readonly DeliveryLog _log;
    private readonly Socket _socket;
    private byte[] _buffer = new byte[1024];
    private int _filled;
    private byte[]? _message;
    private int _messageLength;
    private long _lastSeq = -1;
    private bool _lastFrameFinal;

    private FeedConnection(int index, WireProtocol protocol, DeliveryLog log, Socket socket)
    {
        _index = index;
        _protocol = protocol;
        _log = log;
        _socket = socket;
    }

    /// <summary>The connection's number in its worker.</summary>
    public int Index => _index;

    /// <summary>Whether the server ended the connection (or it broke).</summary>
    public bool Closed { get; private set; }

    /// <summary>Seq gaps and repeats seen on a BookShelf connection (its per-group order check).</summary>
    public int SeqViolations { get; private set; }

    /// <summary>
    /// Connects from <paramref name="source"/> to <paramref name="uri"/> and completes the upgrade (and, for
    /// SignalR, the hub handshake). The read loop starts at once.
    /// </summary>
    public static async Task<FeedConnection> ConnectAsync(int index, Uri uri, IPAddress source, WireProtocol protocol, DeliveryLog log, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(new DnsEndPoint(uri.Host, uri.Port), cancellationToken);
            var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            var request = $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n";
            await SendAllAsync(socket, Encoding.ASCII.GetBytes(request), cancellationToken);
            var connection = new FeedConnection(index, protocol, log, socket);
            await connection.ReadUpgradeAsync(cancellationToken);
            if (protocol == WireProtocol.SignalR)
            {
                await SendAllAsync(socket, MaskedFrame(0x1, SignalRHandshake), cancellationToken);
                await connection.ReadHandshakeAnswerAsync(cancellationToken);
            }

            _ = connection.ReadLoopAsync();
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes the socket without a close handshake (the bench is done with it).</summary>
    public void Abort()
    {
        Closed = true;
        _socket.Dispose();
    }

    private async Task ReadUpgradeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var n = await _socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                throw new IOException("closed during the upgrade");
            }

            _filled += n;
            var end = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var head = Encoding.ASCII.GetString(_buffer, 0, end);
                if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
                {
                    throw new IOException($"upgrade refused: {head.Split('\r')[0]}");
                }

                Consume(end + 4);
                return;
            }

            if (_filled == _buffer.Length)
            {
                throw new IOException("upgrade answer too long");
            }
        }
    }

    private async Task ReadHandshakeAnswerAsync(CancellationToken cancellationToken)
    {
        // The answer to the hub handshake is "{}\x1e" in one text frame; an error is {"error":...}.
        while (true)
        {
            if (TryTakeFrame(out var opcode, out var payload, out var consumed))
            {
                var text = Encoding.UTF8.GetString(payload.Span);
                Consume(consumed);
                if (opcode == 0x1 && text.StartsWith("{}", StringComparison.Ordinal))
                {
                    return;
                }

                throw new IOException($"SignalR handshake refused: {text}");
            }

            var n = await _socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                throw new IOException("closed during the SignalR handshake");
            }

            _filled += n;
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                if (_filled == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                var n = await _socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None);
                if (n == 0)
                {
                    break;
                }

                _filled += n;
                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                while (TryTakeFrame(out var opcode, out var payload, out var consumed))
                {
                    if (!Handle(opcode, payload.Span, now))
                    {
                        Closed = true;
                        return;
                    }

                    Consume(consumed);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
        }

        Closed = true;
    }

    /// <summary>Handles one whole frame; false when the server closed the connection.</summary>
    private bool Handle(int opcode, ReadOnlySpan<byte> payload, long now)
    {
        switch (opcode)
        {
            case 0x8:
                return false;
            case 0x9:
                // Ping: answer at once with the same payload (the server closes connections that do not).
                _ = SendAllAsync(_socket, MaskedFrame(0xA, payload.ToArray()), CancellationToken.None);
                return true;
            case 0xA:
                return true;
        }

        if (opcode == 0x0 || _message is not null)
        {
            // A fragmented message: gather it until the final frame.
            _message ??= new byte[Math.Max(256, payload.Length * 2)];
            if (_messageLength + payload.Length > _message.Length)
            {
                Array.Resize(ref _message, (_messageLength + payload.Length) * 2);
            }

            payload.CopyTo(_message.AsSpan(_messageLength));
            _messageLength += payload.Length;
            if (!_lastFrameFinal)
            {
                return true;
            }

            OnMessage(_message.AsSpan(0, _messageLength), now);
            _message = null;
            _messageLength = 0;
            return true;
        }

        if (!_lastFrameFinal)
        {
            _message = new byte[Math.Max(256, payload.Length * 2)];
            payload.CopyTo(_message);
            _messageLength = payload.Length;
            return true;
        }

        OnMessage(payload, now);
        return true;
    }

    private void OnMessage(ReadOnlySpan<byte> message, long now)
    {
        if (_protocol == WireProtocol.SignalR)
        {
            // Several records may share one message; each ends with 0x1E.
            while (message.Length > 0)
            {
                var end = message.IndexOf((byte)0x1E);
                var record = end < 0 ? message : message[..end];
                if (TryReadNumber(record, NewIdKey, out var id))
                {
                    _log.Add(_index, id, now);
                }

                message = end < 0 ? default : message[(end + 1)..];
            }

            return;
        }

        if (_protocol == WireProtocol.BookShelfAnyGroup)
        {
            OnAnyGroupMessage(message, now);
            return;
        }

        // Every event frame has a seq (control frames have none): each group's seqs follow on, one by one.
        if (TryReadNumber(message, SeqKey, out var seq))
        {
            if (_lastSeq >= 0 && seq != _lastSeq + 1)
            {
                SeqViolations++;
            }

            _lastSeq = seq;
        }

        if (TryReadNumber(message, _protocol == WireProtocol.BookShelfComments ? CommentIdKey : NewIdKey, out var eventId))
        {
            _log.Add(_index, eventId, now);
        }
    }

    /// <summary>A connection on several groups: each group's seqs follow on; every event is logged (post or comment id).</summary>
    private void OnAnyGroupMessage(ReadOnlySpan<byte> message, long now)
    {
        if (!TryReadNumber(message, SeqKey, out var seq))
        {
            return;
        }

        var at = message.IndexOf(GroupKey);
        if (at >= 0)
        {
            var rest = message[(at + GroupKey.Length)..];
            var end = rest.IndexOf((byte)'"');
            var group = Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
            _groupSeqs ??= new(StringComparer.Ordinal);
            if (_groupSeqs.TryGetValue(group, out var last) && seq != last + 1)
            {
                SeqViolations++;
            }

            _groupSeqs[group] = seq;
        }

        if (TryReadNumber(message, NewIdKey, out var id) || TryReadNumber(message, CommentIdKey, out id))
        {
            _log.Add(_index, id, now);
        }
    }

    /// <summary>Takes the next whole frame from the buffer, if there is one.</summary>
    private bool TryTakeFrame(out int opcode, out ReadOnlyMemory<byte> payload, out int consumed)
    {
        opcode = 0;
        payload = default;
        consumed = 0;
        var span = _buffer.AsSpan(0, _filled);
        if (span.Length < 2)
        {
            return false;
        }

        var header = 2;
        long length = span[1] & 0x7F;
        if (length == 126)
        {
            if (span.Length < 4)
            {
                return false;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(span[2..]);
            header = 4;
        }
        else if (length == 127)
        {
            if (span.Length < 10)
            {
                return false;
            }

            length = (long)BinaryPrimitives.ReadUInt64BigEndian(span[2..]);
            header = 10;
        }

        if (header + length > int.MaxValue)
        {
            throw new IOException("frame too large");
        }

        if (span.Length < header + length)
        {
            if (header + length > _buffer.Length)
            {
                Array.Resize(ref _buffer, (int)(header + length));
            }

            return false;
        }

        _lastFrameFinal = (span[0] & 0x80) != 0;
        opcode = span[0] & 0x0F;
        payload = _buffer.AsMemory(header, (int)length);
        consumed = header + (int)length;
        return true;
    }

    private void Consume(int count)
    {
        var rest = _filled - count;
        if (rest > 0)
        {
            Buffer.BlockCopy(_buffer, count, _buffer, 0, rest);
        }

        _filled = rest;
    }

    /// <summary>Reads the non-negative integer after <paramref name="key"/>.</summary>
    private static bool TryReadNumber(ReadOnlySpan<byte> json, ReadOnlySpan<byte> key, out long value)
    {
        value = 0;
        var at = json.IndexOf(key);
        if (at < 0)
        {
            return false;
        }

        var digits = json[(at + key.Length)..];
        var i = 0;
        while (i < digits.Length && digits[i] is >= (byte)'0' and <= (byte)'9')
        {
            value = (value * 10) + (digits[i] - '0');
            i++;
        }

        return i > 0;
    }

    /// <summary>A client frame: FIN set, masked (a zero mask, which RFC 6455 allows), payload under 64 KiB.</summary>
    private static byte[] MaskedFrame(int opcode, byte[] payload)
    {
        var header = payload.Length < 126 ? 6 : 8;
        var frame = new byte[header + payload.Length];
        frame[0] = (byte)(0x80 | opcode);
        if (payload.Length < 126)
        {
            frame[1] = (byte)(0x80 | payload.Length);
        }
        else
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }

        // Mask bytes stay zero, so the payload goes as it is.
        payload.CopyTo(frame, header);
        return frame;
    }

    private static async Task SendAllAsync(Socket socket, byte[] bytes, CancellationToken cancellationToken)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, cancellationToken);
        }
    }
}
