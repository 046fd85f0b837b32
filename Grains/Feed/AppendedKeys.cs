using System.Globalization;

namespace BookShelf.Grains.Feed;

/// <summary>What a feed knows of an event key: new, already in the tail (with its seq), already sealed, or not yet known.</summary>
internal enum KeyState
{
    /// <summary>Never appended: append it.</summary>
    New,

    /// <summary>Appended and still in the tail; <see cref="KeyLookup.Seq"/> is its seq.</summary>
    InTail,

    /// <summary>Appended and sealed into a page; <see cref="KeyLookup.Seq"/> is its seq.</summary>
    Sealed,

    /// <summary>Not decidable from memory: load <see cref="KeyLookup.Bucket"/> from the index, then ask again.</summary>
    NeedsBucket,
}

/// <summary>The answer of <see cref="AppendedKeys.Find"/>.</summary>
internal readonly record struct KeyLookup(KeyState State, long Seq = 0, string? Bucket = null);

/// <summary>
/// Exact idempotency of a feed's appends, for any delay and any number of copies. Every key the feed ever
/// appended is either in the tail (held here with its seq, rebuilt from the stored tail) or in a sealed page,
/// and the keys of sealed pages are kept in a durable index of buckets (<see cref="IFeedIndexGrain"/>) written
/// when the page is sealed, before the tail lets go of them. A bucket groups keys of one source and nearby
/// numbers (<see cref="BucketOf"/>), so a page of new posts touches one or two buckets, and a lookup of a new
/// key usually finds its bucket already cached. Nothing here depends on a window, a timeout or a rate.
/// </summary>
internal sealed class AppendedKeys(int cachedBuckets)
{
    /// <summary>Numbers per index bucket.</summary>
    public const int BucketSpan = 256;

    private readonly Dictionary<string, long> _tail = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, long>> _buckets = new(StringComparer.Ordinal);
    private readonly Queue<string> _bucketOrder = new();

    /// <summary>
    /// The index bucket of a key: its source (the key without its last segment) and its number divided by
    /// <see cref="BucketSpan"/>, e.g. <c>post/482</c> for <c>post:123456</c>, <c>comment:7/0</c> for
    /// <c>comment:7:3</c>. A key without a numeric last segment falls in one of 64 hashed buckets of its source.
    /// </summary>
    public static string BucketOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var colon = key.LastIndexOf(':');
        var source = colon < 0 ? "" : key[..colon];
        var last = colon < 0 ? key : key[(colon + 1)..];
        if (last.Length is > 0 and <= 18 && long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{source}/{number / BucketSpan}");
        }

        var hash = 2166136261u;
        foreach (var c in last)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{source}/h{hash % 64}");
    }

    /// <summary>
    /// Splits a bucket of numbered keys (<c>post/482</c>) into its source and number; false for the hashed buckets of keys
    /// without a number (<c>post/h12</c>).
    /// </summary>
    public static bool TryNumbered(string bucket, out string source, out long number)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        var slash = bucket.LastIndexOf('/');
        source = slash < 0 ? "" : bucket[..slash];
        return long.TryParse(bucket.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>Forgets everything and holds the keys of the stored tail.</summary>
    public void ResetTail(IEnumerable<FeedEvent> tail)
    {
        _tail.Clear();
        foreach (var e in tail)
        {
            _tail[e.Key] = e.Seq;
        }
    }

    /// <summary>What is known of <paramref name="key"/>.</summary>
    public KeyLookup Find(string key)
    {
        if (_tail.TryGetValue(key, out var seq))
        {
            return new KeyLookup(KeyState.InTail, seq);
        }

        var bucket = BucketOf(key);
        if (!_buckets.TryGetValue(bucket, out var keys))
        {
            return new KeyLookup(KeyState.NeedsBucket, Bucket: bucket);
        }

        return keys.TryGetValue(key, out seq) ? new KeyLookup(KeyState.Sealed, seq) : new KeyLookup(KeyState.New);
    }

    /// <summary>Holds a bucket read from the index, forgetting the longest-held one beyond the cache size.</summary>
    public void AddBucket(string bucket, IReadOnlyDictionary<string, long> keys)
    {
        if (_buckets.ContainsKey(bucket))
        {
            return;
        }

        _buckets[bucket] = new Dictionary<string, long>(keys, StringComparer.Ordinal);
        _bucketOrder.Enqueue(bucket);
        while (_buckets.Count > cachedBuckets && _bucketOrder.TryDequeue(out var oldest))
        {
            _buckets.Remove(oldest);
        }
    }

    /// <summary>Records an event stored in the tail.</summary>
    public void Appended(FeedEvent stamped) => _tail[stamped.Key] = stamped.Seq;

    /// <summary>
    /// Records a sealed page: its keys are in the index and the stored head no longer holds them. Cached buckets take
    /// the keys, in the same step as the tail lets go of them: a bucket cached while the page was being stored (read
    /// before the index took the keys, or known empty) holds them from now on.
    /// </summary>
    public void Sealed(IReadOnlyList<FeedEvent> page)
    {
        ArgumentNullException.ThrowIfNull(page);
        foreach (var e in page)
        {
            if (_buckets.TryGetValue(BucketOf(e.Key), out var keys))
            {
                keys.TryAdd(e.Key, e.Seq);
            }

            _tail.Remove(e.Key);
        }
    }

    /// <summary>A page's keys grouped by index bucket: what sealing it writes to the index.</summary>
    public static IEnumerable<(string Bucket, Dictionary<string, long> Keys)> ByBucket(IEnumerable<FeedEvent> page) =>
        page.GroupBy(e => BucketOf(e.Key), StringComparer.Ordinal)
            .Select(g => (g.Key, g.ToDictionary(e => e.Key, e => e.Seq, StringComparer.Ordinal)));
}
