using System.Diagnostics.Metrics;

namespace BookShelf.Grains.Diagnostics;

/// <summary>The silo side of BookShelf's meter: posts created, feed appends, feed reads, fan-out calls.</summary>
public sealed class FeedMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "BookShelf";

    private readonly Counter<long> _postsCreated;
    private readonly Counter<long> _appends;
    private readonly Counter<long> _reads;
    private readonly Counter<long> _repeats;
    private readonly Counter<long> _fanOutCalls;
    private readonly Counter<long> _streamCopiesDropped;

    /// <summary>Creates the instruments.</summary>
    public FeedMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _postsCreated = meter.CreateCounter<long>("bookshelf.posts.created", description: "Posts created and acknowledged.");
        _appends = meter.CreateCounter<long>("bookshelf.feed.appends", description: "Events appended to group feeds.");
        _repeats = meter.CreateCounter<long>("bookshelf.feed.repeats", description: "Copies of events already in their feed (stream copies, retries), not appended again.");
        _reads = meter.CreateCounter<long>("bookshelf.feed.reads", description: "Catch-up reads served by feeds.");
        _fanOutCalls = meter.CreateCounter<long>("bookshelf.feed.fanout_calls", description: "One-way calls to gateway nodes (one per node per batch).");
        _streamCopiesDropped = meter.CreateCounter<long>("bookshelf.feed.stream_copies_dropped", description: "Stream copies of events dropped before publishing (too many waiting); their confirmations still deliver them.");
    }

    /// <summary>A post was created.</summary>
    public void PostCreated() => _postsCreated.Add(1);

    /// <summary>An event was appended to a feed.</summary>
    public void Appended(string group) => _appends.Add(1, new KeyValuePair<string, object?>("group.kind", GroupKind(group)));

    /// <summary>A copy of an event already in the feed arrived and was not appended.</summary>
    public void Repeated(string group) => _repeats.Add(1, new KeyValuePair<string, object?>("group.kind", GroupKind(group)));

    /// <summary>Stream copies were dropped before publishing.</summary>
    public void StreamCopiesDropped(int count)
    {
        if (count > 0)
        {
            _streamCopiesDropped.Add(count);
        }
    }

    /// <summary>A catch-up read was served.</summary>
    public void Read(string group) => _reads.Add(1, new KeyValuePair<string, object?>("group.kind", GroupKind(group)));

    /// <summary>Fan-out calls were made.</summary>
    public void FannedOut(int calls) => _fanOutCalls.Add(calls);

    /// <summary>The low-cardinality tag for a group: <c>site</c> or <c>post</c>.</summary>
    public static string GroupKind(string group) => group == Groups.Site ? "site" : "post";
}
