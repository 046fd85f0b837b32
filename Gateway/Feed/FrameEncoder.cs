using System.Buffers;
using System.Text.Json;
using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// The wire form of feed events (see docs/protocol.md). A new post's frame carries <c>new_id</c>, so the
/// original BookShelf page script (<c>JSON.parse(e.data).new_id</c>) works unchanged.
/// </summary>
public static class FrameEncoder
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    /// <summary>The UTF-8 JSON text frame of one event.</summary>
    public static byte[] Encode(FeedEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            switch (e.Kind)
            {
                case FeedEventKind.PostCreated:
                    w.WriteString("type", "post");
                    w.WriteNumber("new_id", e.PostId);
                    w.WriteString("title", e.Title);
                    w.WriteString("author", e.Author);
                    if (e.Text is { Length: > 0 } excerpt)
                    {
                        w.WriteString("excerpt", excerpt);
                    }

                    break;
                case FeedEventKind.CommentAdded:
                    w.WriteString("type", "comment");
                    w.WriteNumber("post_id", e.PostId);
                    w.WriteNumber("comment_id", e.CommentId);
                    w.WriteString("author", e.Author);
                    w.WriteString("text", e.Text);
                    break;
                case FeedEventKind.LikeChanged:
                    w.WriteString("type", "like");
                    w.WriteNumber("post_id", e.PostId);
                    w.WriteNumber("like_count", e.LikeCount);
                    break;
                default:
                    w.WriteString("type", "unknown");
                    break;
            }

            w.WriteString("group", e.Group);
            w.WriteNumber("seq", e.Seq);
            w.WriteString("at", e.At);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
