using System.Buffers;
using System.Text;
using BookShelf.Gateway.WebSockets;
using CsCheck;

namespace BookShelf.Gateway.Tests;

/// <summary>The WebSocket codec alone: frames in, messages and control events out, no sockets.</summary>
public sealed class FrameDecoderTests
{
    private const int Limit = 256;
    private static readonly int[] DocumentedCloses = [-1, CloseCodes.ProtocolError, CloseCodes.BinaryMessage, CloseCodes.InvalidUtf8, CloseCodes.MessageTooBig];

    /// <summary>A client frame with any length encoding (the shortest unless forced) and a random or given mask.</summary>
    private static byte[] Frame(int opcode, byte[] payload, bool fin = true, bool masked = true, int? lengthBytes = null, byte[]? mask = null)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        var bit = masked ? 0x80 : 0;
        var encoding = lengthBytes ?? (payload.Length < 126 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8);
        if (encoding == 0)
        {
            header.Add((byte)(bit | payload.Length));
        }
        else if (encoding == 2)
        {
            header.Add((byte)(bit | 126));
            header.AddRange([(byte)(payload.Length >> 8), (byte)payload.Length]);
        }
        else
        {
            header.Add((byte)(bit | 127));
            header.AddRange(BitConverter.GetBytes((ulong)payload.Length).Reverse());
        }

        var body = (byte[])payload.Clone();
        if (masked)
        {
            mask ??= [1, 2, 3, 4];
            header.AddRange(mask);
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= mask[i % 4];
            }
        }

        return [.. header, .. body];
    }

    private static List<Decoded> DecodeAll(byte[] input, int chunk = int.MaxValue)
    {
        using var decoder = new FrameDecoder(Limit);
        var results = new List<Decoded>();
        var pending = Array.Empty<byte>();
        for (var at = 0; at < input.Length || at == 0; at += chunk)
        {
            pending = [.. pending, .. input.AsSpan(at, Math.Min(chunk, input.Length - at))];
            var buffer = new ReadOnlySequence<byte>(pending);
            while (true)
            {
                var decoded = decoder.Decode(ref buffer);
                if (decoded.Kind == DecodedKind.NeedMore)
                {
                    break;
                }

                results.Add(decoded with { Message = decoded.Message is null ? null : decoded.Message[..decoded.Length], Payload = decoded.Payload.ToArray() });
                if (decoded.Message is { } rented)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }

                if (decoded.Kind == DecodedKind.Close)
                {
                    return results;
                }
            }

            pending = buffer.ToArray();
            if (input.Length == 0)
            {
                break;
            }
        }

        return results;
    }

    [Fact]
    public void FragmentedTextWithAPingBetweenIsOneMessageAfterThePing()
    {
        var input = (byte[])[.. Frame(0x1, "{\"ty"u8.ToArray(), fin: false), .. Frame(0x9, "hi"u8.ToArray()), .. Frame(0x0, "pe\":1}"u8.ToArray())];
        foreach (var chunk in new[] { int.MaxValue, 1, 3, 7 })
        {
            var results = DecodeAll(input, chunk);
            Assert.Equal([DecodedKind.Ping, DecodedKind.Message], results.Select(r => r.Kind));
            Assert.Equal("hi", Encoding.UTF8.GetString(results[0].Payload.Span));
            Assert.Equal("{\"type\":1}", Encoding.UTF8.GetString(results[1].Message!));
        }
    }

    [Theory]
    [InlineData("unmasked", 1002)]
    [InlineData("top bit", 1002)]
    [InlineData("16-bit not minimal", 1002)]
    [InlineData("64-bit not minimal", 1002)]
    [InlineData("long ping", 1002)]
    [InlineData("fragmented ping", 1002)]
    [InlineData("continuation first", 1002)]
    [InlineData("text inside text", 1002)]
    [InlineData("reserved bit", 1002)]
    [InlineData("binary", 1003)]
    [InlineData("not utf-8", 1007)]
    [InlineData("too big", 1009)]
    [InlineData("huge continuation", 1009)]
    [InlineData("close of 1 byte", 1002)]
    [InlineData("close code 1005", 1002)]
    [InlineData("close reason not utf-8", 1002)]
    [InlineData("close 1000", -1)]
    [InlineData("close empty", -1)]
    public void EachRuleEndsInItsDocumentedClose(string kind, int code)
    {
        byte[] input = kind switch
        {
            "unmasked" => Frame(0x1, "x"u8.ToArray(), masked: false),
            "top bit" => [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, .. "hello"u8.ToArray()],
            "16-bit not minimal" => Frame(0x1, "hello"u8.ToArray(), lengthBytes: 2),
            "64-bit not minimal" => Frame(0x1, "hello"u8.ToArray(), lengthBytes: 8),
            "long ping" => Frame(0x9, new byte[126]),
            "fragmented ping" => Frame(0x9, [1], fin: false),
            "continuation first" => Frame(0x0, "x"u8.ToArray()),
            "text inside text" => [.. Frame(0x1, "a"u8.ToArray(), fin: false), .. Frame(0x1, "b"u8.ToArray())],
            "reserved bit" => [(byte)(Frame(0x1, "x"u8.ToArray())[0] | 0x40), .. Frame(0x1, "x"u8.ToArray())[1..]],
            "binary" => Frame(0x2, [1, 2]),
            "not utf-8" => Frame(0x1, [0xC3, 0x28]),
            "too big" => [.. Frame(0x1, new byte[200], fin: false), .. Frame(0x0, new byte[100])],
            // A continuation declaring 2^63 - 1 bytes after a fragment: the sum must not wrap past the limit check.
            "huge continuation" => [.. Frame(0x1, "a"u8.ToArray(), fin: false), 0x00, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0],
            "close of 1 byte" => Frame(0x8, [3]),
            "close code 1005" => Frame(0x8, [0x03, 0xED]),
            "close reason not utf-8" => Frame(0x8, [0x03, 0xE8, 0xFF]),
            "close 1000" => Frame(0x8, [0x03, 0xE8, .. "bye"u8.ToArray()]),
            _ => Frame(0x8, []),
        };

        var last = DecodeAll(input)[^1];
        Assert.Equal(DecodedKind.Close, last.Kind);
        Assert.Equal(code, last.CloseCode);
    }

    [Fact]
    public void APartialFrameNeedsMoreBytesAtEveryCut()
    {
        var frame = Frame(0x1, Encoding.UTF8.GetBytes(new string('a', 200)));
        using var decoder = new FrameDecoder(Limit);
        for (var cut = 0; cut < frame.Length; cut++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, cut);
            Assert.Equal(DecodedKind.NeedMore, decoder.Decode(ref buffer).Kind);
            Assert.Equal(cut, buffer.Length);
        }
    }

    [Fact]
    public void RandomBytesNeverThrowAndEndInAResultACloseOrANeedForMore() =>
        Gen.Byte.Array[0, 600].Select(Gen.Int[1, 64]).Sample((bytes, chunk) => CheckEnds(bytes, chunk), iter: 20_000);

    [Fact]
    public void MutatedFrameSequencesNeverThrowAndEndInAResultACloseOrANeedForMore()
    {
        var frame = Gen.OneOf(
            Gen.Byte.Array[0, 140].Select(p => Frame(0x1, p)),
            Gen.Byte.Array[0, 140].Select(p => Frame(0x0, p, fin: false)),
            Gen.Byte.Array[0, 125].Select(p => Frame(0x9, p)),
            Gen.Byte.Array[0, 125].Select(p => Frame(0x8, p)),
            Gen.Byte.Array[0, 300].Select(p => Frame(0x1, p, lengthBytes: 8)));
        var sequence = frame.Array[1, 6].Select(frames => frames.SelectMany(f => f).ToArray());
        var mutated = sequence.Select(Gen.Int[0, 10_000].Array[0, 4], Gen.Byte, (bytes, at, value) =>
        {
            foreach (var i in at.Where(_ => bytes.Length > 0))
            {
                bytes[i % bytes.Length] = value;
            }

            return bytes;
        });
        mutated.Select(Gen.Int[1, 64]).Sample((bytes, chunk) => CheckEnds(bytes, chunk), iter: 20_000);
    }

    private static void CheckEnds(byte[] bytes, int chunk)
    {
        var results = DecodeAll(bytes, chunk);
        foreach (var result in results)
        {
            Assert.True(result.Kind is DecodedKind.Message or DecodedKind.Ping or DecodedKind.Pong or DecodedKind.Close);
            if (result.Kind == DecodedKind.Close)
            {
                Assert.Contains(result.CloseCode, DocumentedCloses);
            }

            if (result.Kind == DecodedKind.Message)
            {
                Assert.InRange(result.Length, 0, Limit);
                Assert.True(System.Text.Unicode.Utf8.IsValid(result.Message));
            }

            if (result.Kind == DecodedKind.Ping)
            {
                Assert.InRange(result.Payload.Length, 0, 125);
            }
        }
    }
}
