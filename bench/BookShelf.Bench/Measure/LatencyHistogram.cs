namespace BookShelf.Bench.Measure;

/// <summary>
/// A log-linear histogram of microsecond values: exact below 2,048 µs, then 1,024 sub-buckets per power of two
/// (under 0.1 % error), up to about 2^36 µs. Histograms from several processes merge by adding counts.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Linear = 2048;
    private const int SubBuckets = 1024;
    private const int Powers = 26;
    private readonly long[] _counts = new long[Linear + (Powers * SubBuckets)];

    /// <summary>Values recorded.</summary>
    public long Count { get; private set; }

    /// <summary>The largest value recorded.</summary>
    public long Max { get; private set; }

    /// <summary>Records one value (negative values count as 0).</summary>
    public void Record(long micros)
    {
        micros = Math.Max(0, micros);
        _counts[Index(micros)]++;
        Count++;
        Max = Math.Max(Max, micros);
    }

    /// <summary>Adds another histogram's counts to this one.</summary>
    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at <paramref name="percentile"/> (0–100), in µs; 0 when empty.</summary>
    public long Percentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(percentile / 100.0 * Count);
        rank = Math.Clamp(rank, 1, Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperBound(i), Max);
            }
        }

        return Max;
    }

    /// <summary>The non-empty buckets, for sending to another process.</summary>
    public long[][] ToPairs() => [.. _counts.Select((c, i) => (c, i)).Where(x => x.c != 0).Select(x => new long[] { x.i, x.c })];

    /// <summary>Rebuilds a histogram from <see cref="ToPairs"/> and its max.</summary>
    public static LatencyHistogram FromPairs(long[][] pairs, long max)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var h = new LatencyHistogram { Max = max };
        foreach (var pair in pairs)
        {
            h._counts[pair[0]] += pair[1];
            h.Count += pair[1];
        }

        return h;
    }

    private static int Index(long v)
    {
        if (v < Linear)
        {
            return (int)v;
        }

        var power = 63 - (int)long.LeadingZeroCount(v) - 10; // v >> power is in [1024, 2048)
        power = Math.Min(power, Powers);
        var sub = (int)Math.Min((v >> power) - SubBuckets, SubBuckets - 1);
        return Linear + ((power - 1) * SubBuckets) + sub;
    }

    private static long UpperBound(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        var power = ((index - Linear) / SubBuckets) + 1;
        var sub = (index - Linear) % SubBuckets;
        return ((SubBuckets + sub + 1L) << power) - 1;
    }
}
