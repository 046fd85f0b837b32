namespace BookShelf.Bench.Worker;

/// <summary>Which server a connection talks to, and so how its frames are read.</summary>
public enum WireProtocol
{
    /// <summary>BookShelf's <c>/ws/update_notice/</c>: one JSON event per text frame, with <c>new_id</c> and <c>seq</c>.</summary>
    BookShelf,

    /// <summary>BookShelf's <c>/ws/update_notice/</c> on a post's group: every event checked by <c>seq</c>, comments logged by <c>comment_id</c>.</summary>
    BookShelfComments,

    /// <summary>BookShelf on several groups at once: every event counted (<c>new_id</c> or <c>comment_id</c>), seq checked per group.</summary>
    BookShelfAnyGroup,

    /// <summary>SignalR JSON hub protocol over a plain WebSocket: a handshake, then 0x1E-terminated records.</summary>
    SignalR,
}
