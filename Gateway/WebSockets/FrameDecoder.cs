using System.Buffers;

namespace BookShelf.Gateway.WebSockets;

/// <summary>What <see cref="FrameDecoder.Decode"/> found.</summary>
public enum DecodedKind
{
    /// <summary>No whole frame yet: read more bytes and call again.</summary>
    NeedMore,

    /// <summary>A complete, valid UTF-8 text message in <see cref="Decoded.Message"/> (a pooled array; return it).</summary>
    Message,

    /// <summary>A ping: answer with a pong carrying <see cref="Decoded.Payload"/>.</summary>
    Ping,

    /// <summary>A pong.</summary>
    Pong,

    /// <summary>
    /// The connection ends: the client closed (<see cref="Decoded.CloseCode"/> -1, answer with 1000), or it broke
    /// the protocol or a limit (the code and reason to close with).
    /// </summary>
    Close,
}

/// <summary>One result of <see cref="FrameDecoder.Decode"/>.</summary>
public readonly record struct Decoded(DecodedKind Kind, byte[]? Message = null, int Length = 0, ReadOnlyMemory<byte> Payload = default, int CloseCode = 0, string Reason = "")
{
    /// <summary>A close with this code and reason.</summary>
    public static Decoded Close(int code, string reason) => new(DecodedKind.Close, CloseCode: code, Reason: reason);
}

/// <summary>
/// The client side of RFC 6455 as a pure codec: frames in, messages and control events out; no sockets, no
/// clocks. It checks every frame (mask, reserved bits, opcodes, lengths in their shortest encoding and never
/// read as signed, control frames short and whole, continuation order, close payloads), reassembles fragmented
/// text up to <c>maxMessageBytes</c>, and checks UTF-8. Every input ends in a result: a message, a control
/// event, a documented close (1002, 1003, 1007, 1009), or a need for more bytes. Nothing it allocates is sized
/// by the peer beyond <c>maxMessageBytes</c>.
/// </summary>
public sealed class FrameDecoder(int maxMessageBytes) : IDisposable
{
    /// <summary>Largest control payload (RFC 6455 §5.5).</summary>
    private const int MaxControl = 125;

    private readonly byte[] _control = new byte[MaxControl];
    private byte[]? _fragments;
    private int _fragmentLength;

    /// <summary>
    /// Decodes from the start of <paramref name="buffer"/>, moving it past every whole frame used. Returns at the
    /// first message, control event or close; <see cref="DecodedKind.NeedMore"/> when the rest is a partial frame.
    /// A ping's payload stays valid until the next call.
    /// </summary>
    public Decoded Decode(ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            var reader = new SequenceReader<byte>(buffer);
            var read = WebSocketFrames.TryReadHeader(ref reader, out var header);
            if (read == HeaderRead.NeedMore)
            {
                return default;
            }

            if (read == HeaderRead.Invalid || header.Reserved != 0 || !header.Masked
                || header.Opcode is not (WebSocketFrames.Continuation or WebSocketFrames.Text or WebSocketFrames.Binary or WebSocketFrames.Close or WebSocketFrames.Ping or WebSocketFrames.Pong)
                || (header.IsControl && (!header.Fin || header.Length > MaxControl))
                || (header.Opcode == WebSocketFrames.Continuation && _fragments is null)
                || (header.Opcode is WebSocketFrames.Text or WebSocketFrames.Binary && _fragments is not null))
            {
                return Decoded.Close(CloseCodes.ProtocolError, "protocol error");
            }

            if (header.Opcode == WebSocketFrames.Binary)
            {
                return Decoded.Close(CloseCodes.BinaryMessage, "binary messages are not supported");
            }

            if (!header.IsControl && header.Length > maxMessageBytes - _fragmentLength)
            {
                return Decoded.Close(CloseCodes.MessageTooBig, $"messages are limited to {maxMessageBytes} bytes");
            }

            if (reader.Remaining < header.Length)
            {
                return default;
            }

            var length = (int)header.Length;
            var payload = reader.Sequence.Slice(reader.Position, length);
            buffer = buffer.Slice(payload.End);
            if (header.IsControl)
            {
                var data = _control.AsSpan(0, length);
                payload.CopyTo(data);
                WebSocketFrames.Unmask(data, header.Mask, 0);
                switch (header.Opcode)
                {
                    case WebSocketFrames.Ping:
                        return new Decoded(DecodedKind.Ping, Payload: _control.AsMemory(0, length));
                    case WebSocketFrames.Pong:
                        return new Decoded(DecodedKind.Pong);
                    default:
                        return WebSocketFrames.IsValidClosePayload(data) ? Decoded.Close(-1, "") : Decoded.Close(CloseCodes.ProtocolError, "invalid close frame");
                }
            }

            // Text, or its continuation: gather the message.
            _fragments ??= ArrayPool<byte>.Shared.Rent(Math.Max(maxMessageBytes, 1));
            var target = _fragments.AsSpan(_fragmentLength, length);
            payload.CopyTo(target);
            WebSocketFrames.Unmask(target, header.Mask, 0);
            _fragmentLength += length;
            if (!header.Fin)
            {
                continue;
            }

            var whole = _fragments;
            var wholeLength = _fragmentLength;
            _fragments = null;
            _fragmentLength = 0;
            if (!System.Text.Unicode.Utf8.IsValid(whole.AsSpan(0, wholeLength)))
            {
                ArrayPool<byte>.Shared.Return(whole);
                return Decoded.Close(CloseCodes.InvalidUtf8, "text must be UTF-8");
            }

            return new Decoded(DecodedKind.Message, whole, wholeLength);
        }
    }

    /// <summary>Returns a partly gathered message's buffer to the pool.</summary>
    public void Dispose()
    {
        if (_fragments is { } fragments)
        {
            _fragments = null;
            ArrayPool<byte>.Shared.Return(fragments);
        }
    }
}
