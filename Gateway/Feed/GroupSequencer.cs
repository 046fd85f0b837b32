using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// Ordering and gap detection for one group on this node: pushes arrive at most once each, possibly late,
/// twice (a push and a read) or out of order; this turns them into the exact sequence after <see cref="Last"/>.
/// Repeats are dropped, early events are held, and <see cref="GapUpTo"/> says how far the feed must be read
/// when held events wait for missing ones. Not thread-safe: the group's gate serializes it.
/// </summary>
internal sealed class GroupSequencer
{
    private readonly SortedDictionary<long, FeedEvent> _early = [];

    /// <summary>The seq of the last event handed on (every earlier one was handed on, in order).</summary>
    public long Last { get; private set; }

    /// <summary>Events held because an earlier one is missing.</summary>
    public int Held => _early.Count;

    /// <summary>When events are held, the newest held seq: the feed must be read up to it to fill the gap.</summary>
    public long? GapUpTo => _early.Count > 0 ? _early.Keys.Last() : null;

    /// <summary>Starts over at <paramref name="last"/> (a new subscription): nothing held.</summary>
    public void Restart(long last)
    {
        Last = last;
        _early.Clear();
    }

    /// <summary>Moves past everything up to <paramref name="last"/> without handing it on (after a reset).</summary>
    public void SkipTo(long last)
    {
        Last = Math.Max(Last, last);
        DropHandedOn();
    }

    /// <summary>Takes events; any at or before <see cref="Last"/>, or already held, is a repeat and dropped.</summary>
    public void Offer(IEnumerable<FeedEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var e in events)
        {
            if (e.Seq > Last)
            {
                _early.TryAdd(e.Seq, e);
            }
        }
    }

    /// <summary>The next run of consecutive events after <see cref="Last"/> (at most <paramref name="max"/>), or null when the next one is missing.</summary>
    public List<FeedEvent>? TakeNext(int max)
    {
        if (!_early.ContainsKey(Last + 1))
        {
            return null;
        }

        var run = new List<FeedEvent>();
        while (run.Count < max && _early.Remove(Last + 1, out var next))
        {
            run.Add(next);
            Last = next.Seq;
        }

        return run;
    }

    private void DropHandedOn()
    {
        while (_early.Count > 0 && _early.Keys.First() <= Last)
        {
            _early.Remove(_early.Keys.First());
        }
    }
}
