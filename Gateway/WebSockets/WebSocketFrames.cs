using System.Buffers;
using System.Buffers.Binary;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// RFC 6455 framing, server side. Server frames are never masked, so one event's frame is the same bytes for
/// every connection: it is built once per gateway and copied to each socket as it is.
/// </summary>
public static class WebSocketFrames
{
    /// <summary>Opcode of a continuation frame.</summary>
    public const byte Continuation = 0x0;

    /// <summary>Opcode of a text frame.</summary>
    public const byte Text = 0x1;

    /// <summary>Opcode of a binary frame.</summary>
    public const byte Binary = 0x2;

    /// <summary>Opcode of a close frame.</summary>
    public const byte Close = 0x8;

    /// <summary>Opcode of a ping frame.</summary>
    public const byte Ping = 0x9;

    /// <summary>Opcode of a pong frame.</summary>
    public const byte Pong = 0xA;

    /// <summary>An empty server ping.</summary>
    public static ReadOnlyMemory<byte> EmptyPing { get; } = new byte[] { 0x80 | Ping, 0 };

    /// <summary>A whole (FIN) unmasked frame carrying <paramref name="payload"/>.</summary>
    public static byte[] Frame(byte opcode, ReadOnlySpan<byte> payload)
    {
        var header = HeaderLength(payload.Length);
        var frame = new byte[header + payload.Length];
        WriteHeader(frame, opcode, payload.Length);
        payload.CopyTo(frame.AsSpan(header));
        return frame;
    }

    /// <summary>A close frame with <paramref name="code"/> and a UTF-8 <paramref name="reason"/> (cut to fit 125 bytes).</summary>
    public static byte[] CloseFrame(int code, string reason)
    {
        var payload = new byte[2 + Math.Min(System.Text.Encoding.UTF8.GetByteCount(reason), 123)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        var bytes = System.Text.Encoding.UTF8.GetBytes(reason);
        bytes.AsSpan(0, payload.Length - 2).CopyTo(payload.AsSpan(2));
        return Frame(Close, payload);
    }

    /// <summary>The header size of an unmasked frame with <paramref name="payloadLength"/> bytes.</summary>
    public static int HeaderLength(int payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    private static void WriteHeader(Span<byte> destination, byte opcode, int payloadLength)
    {
        destination[0] = (byte)(0x80 | opcode);
        if (payloadLength < 126)
        {
            destination[1] = (byte)payloadLength;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
        }
        else
        {
            destination[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        }
    }

    /// <summary>
    /// Reads one client frame's header and moves <paramref name="reader"/> past it. <see cref="HeaderRead.NeedMore"/>
    /// (the reader unmoved) when more bytes are needed; <see cref="HeaderRead.Invalid"/> for a length RFC 6455 §5.2
    /// forbids: a 64-bit length with its top bit set, or a length not in its shortest encoding (the connection
    /// must then be closed with 1002). Lengths are never read as signed numbers.
    /// </summary>
    public static HeaderRead TryReadHeader(ref SequenceReader<byte> reader, out ClientFrameHeader header)
    {
        header = default;
        var r = reader;
        if (!r.TryRead(out var b0) || !r.TryRead(out var b1))
        {
            return HeaderRead.NeedMore;
        }

        long length = b1 & 0x7F;
        if (length == 126)
        {
            if (!r.TryReadBigEndian(out short l16))
            {
                return HeaderRead.NeedMore;
            }

            length = (ushort)l16;
            if (length < 126)
            {
                return HeaderRead.Invalid;
            }
        }
        else if (length == 127)
        {
            if (!r.TryReadBigEndian(out long l64))
            {
                return HeaderRead.NeedMore;
            }

            if (l64 < 0 || l64 <= ushort.MaxValue)
            {
                return HeaderRead.Invalid;
            }

            length = l64;
        }

        var masked = (b1 & 0x80) != 0;
        uint mask = 0;
        if (masked)
        {
            if (!r.TryReadLittleEndian(out int key))
            {
                return HeaderRead.NeedMore;
            }

            mask = (uint)key;
        }

        header = new ClientFrameHeader((b0 & 0x80) != 0, (byte)(b0 & 0x70), (byte)(b0 & 0x0F), masked, mask, length);
        reader = r;
        return HeaderRead.Header;
    }

    /// <summary>
    /// Whether a close frame's (unmasked) payload is one RFC 6455 §5.5.1 and §7.4 allow: empty, or a code a peer
    /// may send (1000–1003, 1007–1011, 3000–4999) followed by a UTF-8 reason.
    /// </summary>
    public static bool IsValidClosePayload(ReadOnlySpan<byte> payload)
    {
        if (payload.Length == 0)
        {
            return true;
        }

        if (payload.Length == 1)
        {
            return false;
        }

        var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        var allowed = code is (>= 1000 and <= 1003) or (>= 1007 and <= 1011) or (>= 3000 and <= 4999);
        return allowed && System.Text.Unicode.Utf8.IsValid(payload[2..]);
    }

    /// <summary>Removes the client's mask from <paramref name="payload"/> in place (<paramref name="offset"/>: bytes of this frame already unmasked).</summary>
    public static void Unmask(Span<byte> payload, uint mask, long offset)
    {
        Span<byte> key = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(key, mask);
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] ^= key[(int)((offset + i) & 3)];
        }
    }
}

/// <summary>What reading a frame header came to.</summary>
public enum HeaderRead
{
    /// <summary>More bytes are needed.</summary>
    NeedMore,

    /// <summary>A header was read.</summary>
    Header,

    /// <summary>The header breaks RFC 6455: close with 1002.</summary>
    Invalid,
}

/// <summary>A client frame's header.</summary>
/// <param name="Fin">The final frame of its message.</param>
/// <param name="Reserved">The RSV bits (must be 0: no extension is negotiated).</param>
/// <param name="Opcode">The opcode.</param>
/// <param name="Masked">Whether the payload is masked (client frames must be).</param>
/// <param name="Mask">The masking key.</param>
/// <param name="Length">The payload length.</param>
public readonly record struct ClientFrameHeader(bool Fin, byte Reserved, byte Opcode, bool Masked, uint Mask, long Length)
{
    /// <summary>Ping, pong or close.</summary>
    public bool IsControl => (Opcode & 0x8) != 0;
}
