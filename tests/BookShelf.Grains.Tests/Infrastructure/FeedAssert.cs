namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>Assertions on what a local subscriber received.</summary>
public static class FeedAssert
{
    /// <summary>Seqs are contiguous (no gap, no repeat) and in order, starting right after <paramref name="afterSeq"/> when given.</summary>
    public static void ContiguousInOrder(IReadOnlyList<FeedEvent> events, long? afterSeq = null)
    {
        Assert.NotEmpty(events);
        var expected = afterSeq + 1 ?? events[0].Seq;
        foreach (var e in events)
        {
            Assert.True(e.Seq == expected, $"Expected seq {expected} but got {e.Seq} ({e.Key}).");
            expected++;
        }
    }

    /// <summary>Every id of <paramref name="expected"/> arrived exactly once, and the events are contiguous and in order.</summary>
    public static void EveryPostExactlyOnce(RecordingListener listener, IEnumerable<long> expected, string who)
    {
        var events = listener.Events;
        ContiguousInOrder(events);
        var ids = events.Where(e => e.Kind == FeedEventKind.PostCreated).Select(e => e.PostId).ToList();
        var duplicates = ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, $"{who} received ids more than once: {string.Join(", ", duplicates.Take(10))}");
        var missing = expected.Except(ids).ToList();
        Assert.True(missing.Count == 0, $"{who} is missing {missing.Count} id(s): {string.Join(", ", missing.Take(10))}");
    }
}
