namespace BookShelf.Grains.Feed;

/// <summary>
/// Reads a feed by seq: sealed pages (loaded with <c>loadPage</c>, the last few kept in memory) followed by
/// the head's tail. Page <c>p</c> holds seqs <c>p * PageSize + 1</c> to <c>(p + 1) * PageSize</c>.
/// </summary>
internal sealed class FeedReader(int pageSize, int maxReplay, Func<long, Task<IReadOnlyList<FeedEvent>>> loadPage)
{
    private const int CachedPages = 8;
    private readonly Dictionary<long, IReadOnlyList<FeedEvent>> _cache = [];

    /// <summary>Events per page.</summary>
    public int PageSize => pageSize;

    /// <summary>
    /// Events after <paramref name="afterSeq"/>, at most <paramref name="max"/>; when <paramref name="bounded"/>, a reset
    /// when that is further back than the replay limit.
    /// </summary>
    public async Task<FeedRead> ReadAfterAsync(FeedState head, long afterSeq, int max, bool bounded = true)
    {
        var last = head.LastSeq;
        afterSeq = Math.Max(0, afterSeq);
        if (afterSeq >= last || max <= 0)
        {
            return new FeedRead([], last, Reset: false);
        }

        if (bounded && last - afterSeq > maxReplay)
        {
            return new FeedRead([], last, Reset: true);
        }

        var to = Math.Min(last, afterSeq + max);
        return new FeedRead(await CollectAsync(head, afterSeq + 1, to), last, Reset: false);
    }

    /// <summary>Events before <paramref name="beforeSeq"/> (0: from the newest), newest first, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<FeedEvent>> ReadLatestAsync(FeedState head, long beforeSeq, int max)
    {
        var last = head.LastSeq;
        var to = beforeSeq <= 0 ? last : Math.Min(last, beforeSeq - 1);
        if (to < 1 || max <= 0)
        {
            return [];
        }

        var events = await CollectAsync(head, Math.Max(1, to - max + 1), to);
        events.Reverse();
        return events;
    }

    /// <summary>Remembers a page just sealed, so reads of recent history need no load.</summary>
    public void Sealed(long page, IReadOnlyList<FeedEvent> events) => Remember(page, events);

    /// <summary>Events with seq in [from, to], oldest first.</summary>
    private async Task<List<FeedEvent>> CollectAsync(FeedState head, long from, long to)
    {
        var tailStart = (head.SealedPages * pageSize) + 1;
        var result = new List<FeedEvent>((int)(to - from + 1));
        for (var seq = from; seq <= to && seq < tailStart;)
        {
            var page = (seq - 1) / pageSize;
            foreach (var e in await GetPageAsync(page))
            {
                if (e.Seq >= seq && e.Seq <= to)
                {
                    result.Add(e);
                }
            }

            seq = ((page + 1) * pageSize) + 1;
        }

        foreach (var e in head.Tail)
        {
            if (e.Seq >= from && e.Seq <= to)
            {
                result.Add(e);
            }
        }

        return result;
    }

    private async Task<IReadOnlyList<FeedEvent>> GetPageAsync(long page)
    {
        if (_cache.TryGetValue(page, out var cached))
        {
            return cached;
        }

        var events = await loadPage(page);
        Remember(page, events);
        return events;
    }

    private void Remember(long page, IReadOnlyList<FeedEvent> events)
    {
        if (!_cache.ContainsKey(page) && _cache.Count >= CachedPages)
        {
            _cache.Remove(_cache.Keys.Min());
        }

        _cache[page] = events;
    }
}
