namespace BookShelf.Gateway.Posts;

/// <summary>
/// Hands out ids from blocks of <c>size</c> reserved with <c>reserve</c>. Callers that find the block used up
/// share one reservation; a failed reservation fails its waiters and the next call tries again. Not thread-safe:
/// meant for a grain, whose turns never overlap (only its awaits interleave).
/// </summary>
internal sealed class IdBlockAllocator(Func<int, Task<long>> reserve, int size)
{
    private long _next;
    private long _end;
    private Task? _refill;

    /// <summary>The next id, reserving a new block first when this one is used up.</summary>
    public async ValueTask<long> NextAsync()
    {
        while (_next >= _end)
        {
            // The shared reservation is forgotten by whoever sees it finish, never inside the reservation itself:
            // a reservation that completes at once would otherwise clear the field before it is stored in it,
            // leaving a finished task there that every later caller would await forever in this loop.
            var refill = _refill ??= RefillAsync();
            try
            {
                await refill;
            }
            finally
            {
                if (ReferenceEquals(_refill, refill))
                {
                    _refill = null;
                }
            }
        }

        return _next++;
    }

    private async Task RefillAsync()
    {
        var first = await reserve(size);
        _next = first;
        _end = first + size;
    }
}
