using System.Collections.Concurrent;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// The like and comment counts a list shows, read from each post (<see cref="IPostGrain.GetCountsAsync"/>, a small
/// read-only call) and kept for <see cref="MaxAge"/>: a busy home page asks each post about once per that time,
/// not once per view. A post's own page always reads the post itself.
/// </summary>
public sealed class PostCountsCache(IGrainFactory grains, GrainCalls calls, TimeProvider time)
{
    /// <summary>How old a count may be when a list shows it.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(2);

    /// <summary>Posts held at most; past that the cache starts again (a list needs its last few hundred).</summary>
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<long, (PostCounts? Counts, long At)> _entries = new();

    /// <summary>The counts of <paramref name="ids"/>, in order; null for an id with no post.</summary>
    public async Task<IReadOnlyList<PostCounts?>> GetAsync(IReadOnlyList<long> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var result = new PostCounts?[ids.Count];
        var missing = new List<int>();
        for (var i = 0; i < ids.Count; i++)
        {
            if (_entries.TryGetValue(ids[i], out var entry) && time.GetElapsedTime(entry.At) <= MaxAge)
            {
                result[i] = entry.Counts;
            }
            else
            {
                missing.Add(i);
            }
        }

        if (missing.Count > 0)
        {
            var read = await calls.RunAsync(() => Task.WhenAll(missing.Select(i => grains.GetGrain<IPostGrain>(ids[i]).GetCountsAsync())));
            if (_entries.Count > MaxEntries)
            {
                _entries.Clear();
            }

            var now = time.GetTimestamp();
            for (var k = 0; k < missing.Count; k++)
            {
                result[missing[k]] = read[k];
                _entries[ids[missing[k]]] = (read[k], now);
            }
        }

        return result;
    }
}
