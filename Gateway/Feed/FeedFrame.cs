using BookShelf.Gateway.WebSockets;
using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// Consecutive events of one group (usually one; several when events queued up while a fan-out ran) and their
/// WebSocket text frames, encoded once per gateway node and laid end to end, so a connection gets all the events
/// it has not seen with one write: the suffix of <see cref="Wire"/> that <see cref="WireAfter"/> returns.
/// </summary>
public sealed class FeedFrame
{
    private readonly byte[] _wire;
    private readonly int[] _offsets;

    private FeedFrame(IReadOnlyList<FeedEvent> events, byte[] wire, int[] offsets)
    {
        Events = events;
        _wire = wire;
        _offsets = offsets;
    }

    /// <summary>The events, in seq order with no gaps.</summary>
    public IReadOnlyList<FeedEvent> Events { get; }

    /// <summary>Their group.</summary>
    public string Group => Events[0].Group;

    /// <summary>The seq of the last event.</summary>
    public long LastSeq => Events[^1].Seq;

    /// <summary>Every event's frame as it goes on the wire, shared by every connection: never modify it.</summary>
    public ReadOnlyMemory<byte> Wire => _wire;

    /// <summary>The frames of the events after <paramref name="seq"/> (empty when there are none), and how many.</summary>
    public ReadOnlyMemory<byte> WireAfter(long seq, out int count)
    {
        var first = (int)Math.Clamp(seq - Events[0].Seq + 1, 0, Events.Count);
        count = Events.Count - first;
        return count == 0 ? ReadOnlyMemory<byte>.Empty : _wire.AsMemory(_offsets[first]);
    }

    /// <summary>Encodes one event.</summary>
    public static FeedFrame Create(FeedEvent feedEvent) => Create([feedEvent]);

    /// <summary>Encodes consecutive events of one group.</summary>
    public static FeedFrame Create(IReadOnlyList<FeedEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            throw new ArgumentException("A frame needs an event.", nameof(events));
        }

        var frames = events.Select(e => WebSocketFrames.Frame(WebSocketFrames.Text, FrameEncoder.Encode(e))).ToArray();
        var offsets = new int[frames.Length];
        var wire = new byte[frames.Sum(f => f.Length)];
        var at = 0;
        for (var i = 0; i < frames.Length; i++)
        {
            offsets[i] = at;
            frames[i].CopyTo(wire, at);
            at += frames[i].Length;
        }

        return new FeedFrame(events, wire, offsets);
    }
}
