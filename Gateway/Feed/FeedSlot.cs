namespace BookShelf.Gateway.Feed;

/// <summary>A local listener of a group and, while it catches up after a resume, the live events held for it.</summary>
internal sealed class FeedSlot(IFeedListener listener)
{
    private List<FeedFrame>? _held;

    /// <summary>The listener.</summary>
    public IFeedListener Listener { get; } = listener;

    /// <summary>Where it is in its group's list (-1 once removed).</summary>
    public int Index { get; set; } = -1;

    /// <summary>True while it replays what it missed: live events are held for it meanwhile.</summary>
    public bool CatchingUp { get; set; }

    /// <summary>Live events held while catching up (made only for listeners that resume).</summary>
    public List<FeedFrame> Held => _held ??= [];

    /// <summary>Drops what was held.</summary>
    public void ClearHeld() => _held = null;
}
