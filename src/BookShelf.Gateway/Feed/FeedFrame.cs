using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Gateway.Feed;

/// <summary>An event and its WebSocket text frame (UTF-8 JSON), encoded once per gateway node.</summary>
public sealed class FeedFrame(FeedEvent feedEvent, ReadOnlyMemory<byte> utf8)
{
    /// <summary>The event.</summary>
    public FeedEvent Event { get; } = feedEvent;

    /// <summary>The frame's bytes, shared by every connection: never modify them.</summary>
    public ReadOnlyMemory<byte> Utf8 { get; } = utf8;

    /// <summary>Encodes <paramref name="feedEvent"/> as its wire frame.</summary>
    public static FeedFrame Create(FeedEvent feedEvent) => new(feedEvent, FrameEncoder.Encode(feedEvent));
}
