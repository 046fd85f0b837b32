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
    private readonly int[] _lengths;

    private FeedFrame(IReadOnlyList<FeedEvent> events, byte[] wire, int[] offsets, int[] lengths)
    {
        Events = events;
        _wire = wire;
        _offsets = offsets;
        _lengths = lengths;
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

    /// <summary>
    /// The JSON of event <paramref name="index"/> (of <see cref="Events"/>): the payload of its WebSocket frame, which
    /// an SSE stream sends as its <c>data:</c>. Shared: never modify it.
    /// </summary>
    public ReadOnlyMemory<byte> JsonOf(int index)
    {
        var end = _offsets[index] + (index + 1 < _offsets.Length ? _offsets[index + 1] - _offsets[index] : _wire.Length - _offsets[index]);
        return _wire.AsMemory(end - _lengths[index], _lengths[index]);
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

        var json = events.Select(FrameEncoder.Encode).ToArray();
        var frames = json.Select(j => WebSocketFrames.Frame(WebSocketFrames.Text, j)).ToArray();
        var offsets = new int[frames.Length];
        var wire = new byte[frames.Sum(f => f.Length)];
        var at = 0;
        for (var i = 0; i < frames.Length; i++)
        {
            offsets[i] = at;
            frames[i].CopyTo(wire, at);
            at += frames[i].Length;
        }

        // A server frame is its header then its payload, unmasked: the JSON is the last bytes of each frame.
        return new FeedFrame(events, wire, offsets, [.. json.Select(j => j.Length)]);
    }
}
