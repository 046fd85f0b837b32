using System.Buffers;
using System.Text.Json;

namespace BookShelf.Gateway.WebSockets;

/// <summary>The gateway's own (non-event) frames; see docs/protocol.md.</summary>
public static class ControlFrames
{
    /// <summary><c>{"type":"subscribed","group":g,"last_seq":n}</c>: live from here; every event up to n was sent or not asked for.</summary>
    public static byte[] Subscribed(string group, long lastSeq) => Write(w =>
    {
        w.WriteString("type", "subscribed");
        w.WriteString("group", group);
        w.WriteNumber("last_seq", lastSeq);
    });

    /// <summary><c>{"type":"unsubscribed","group":g}</c>.</summary>
    public static byte[] Unsubscribed(string group) => Write(w =>
    {
        w.WriteString("type", "unsubscribed");
        w.WriteString("group", group);
    });

    /// <summary><c>{"type":"reset","group":g,"last_seq":n}</c>: the missed events cannot be replayed; reload the group's data.</summary>
    public static byte[] Reset(string group, long lastSeq) => Write(w =>
    {
        w.WriteString("type", "reset");
        w.WriteString("group", group);
        w.WriteNumber("last_seq", lastSeq);
    });

    /// <summary><c>{"type":"error","code":c,"message":m}</c> (with the group when one is concerned).</summary>
    public static byte[] Error(string code, string message, string? group = null) => Write(w =>
    {
        w.WriteString("type", "error");
        w.WriteString("code", code);
        w.WriteString("message", message);
        if (group is not null)
        {
            w.WriteString("group", group);
        }
    });

    /// <summary><c>{"type":"presence","group":g,"count":n}</c>: the group's cluster-wide presence count; no seq, never replayed.</summary>
    public static byte[] Presence(string group, int count) => Write(w =>
    {
        w.WriteString("type", "presence");
        w.WriteString("group", group);
        w.WriteNumber("count", count);
    });

    /// <summary><c>{"type":"pong"}</c>.</summary>
    public static readonly byte[] Pong = Write(w => w.WriteString("type", "pong"));

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(96);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
