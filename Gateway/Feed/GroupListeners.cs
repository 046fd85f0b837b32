using BookShelf.Gateway.Diagnostics;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// Delivery for one group on this node: its local listeners, and handing each event frame (encoded once) to
/// all of them. A big group is split over the <see cref="FanOutThreads"/>; each listener is in one part and
/// the next frame waits for every part, so every listener gets frames in order. A listener that is catching up
/// gets the frame held instead. Not thread-safe: the group's gate serializes it.
/// </summary>
internal sealed partial class GroupListeners(string group, FanOutThreads? fanOut, GatewayMetrics? metrics, TimeProvider time, ILogger logger)
{
    /// <summary>Listeners per part when a group's fan-out is split over the fan-out threads.</summary>
    private const int ParallelChunk = 512;

    private readonly List<FeedSlot> _slots = [];

    /// <summary>Listeners now.</summary>
    public int Count => _slots.Count;

    /// <summary>Adds a listener.</summary>
    public void Add(FeedSlot slot)
    {
        slot.Index = _slots.Count;
        _slots.Add(slot);
    }

    /// <summary>Removes a listener in O(1) (order among listeners does not matter); false when it was not here.</summary>
    public bool Remove(FeedSlot slot)
    {
        if (slot.Index < 0 || slot.Index >= _slots.Count || !ReferenceEquals(_slots[slot.Index], slot))
        {
            return false;
        }

        var last = _slots[^1];
        _slots[slot.Index] = last;
        last.Index = slot.Index;
        _slots.RemoveAt(_slots.Count - 1);
        slot.Index = -1;
        return true;
    }

    /// <summary>Hands <paramref name="events"/>, encoded once, to every listener.</summary>
    public async Task DeliverAsync(IReadOnlyList<FeedEvent> events)
    {
        var started = time.GetTimestamp();
        var frame = FeedFrame.Create(events);
        var count = _slots.Count;
        var parts = Math.Clamp(count / ParallelChunk, 1, Environment.ProcessorCount);
        if (fanOut is { } threads)
        {
            await threads.RunAsync(parts, p => DeliverRange(frame, count * p / parts, count * (p + 1) / parts));
        }
        else
        {
            DeliverRange(frame, 0, count);
        }

        metrics?.Delivered(count * events.Count);
        metrics?.FannedOut(time.GetElapsedTime(started).TotalMilliseconds);
    }

    private void DeliverRange(FeedFrame frame, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var slot = _slots[i];
            if (slot.CatchingUp)
            {
                slot.Held.Add(frame);
                continue;
            }

            try
            {
                slot.Listener.OnEvent(frame);
            }
            catch (Exception ex)
            {
                LogListenerFailed(logger, ex, group);
            }
        }
    }

    [LoggerMessage(3005, LogLevel.Warning, "A listener of {Group} failed")]
    private static partial void LogListenerFailed(ILogger logger, Exception exception, string group);
}
