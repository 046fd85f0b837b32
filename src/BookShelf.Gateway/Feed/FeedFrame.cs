using BookShelf.Gateway.WebSockets;
using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Gateway.Feed;

/// <summary>An event and its whole WebSocket text frame (header and UTF-8 JSON), encoded once per gateway node.</summary>
public sealed class FeedFrame(FeedEvent feedEvent, byte[] wire)
{
    /// <summary>The event.</summary>
    public FeedEvent Event { get; } = feedEvent;

    /// <summary>The frame as it goes on the wire, shared by every connection: never modify it.</summary>
    public ReadOnlyMemory<byte> Wire { get; } = wire;

    /// <summary>Encodes <paramref name="feedEvent"/> as its wire frame.</summary>
    public static FeedFrame Create(FeedEvent feedEvent) => new(feedEvent, WebSocketFrames.Frame(WebSocketFrames.Text, FrameEncoder.Encode(feedEvent)));
}
