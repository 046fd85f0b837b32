namespace BookShelf.Grains.Posts;

/// <summary>Reserves blocks of ids durably: a block is stored as taken before anyone gets it.</summary>
public sealed class IdBlockGrain(
    [PersistentState("ids", StorageNames.Ids)] IPersistentState<IdBlockState> state) : Grain, IIdBlockGrain
{
    /// <inheritdoc />
    public async Task<long> ReserveAsync(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var first = state.State.NextId;
        if (first + count >= PostRules.MaxPostId)
        {
            throw new InvalidOperationException("The id space is exhausted.");
        }

        state.State.NextId = first + count;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // The write may still have been stored: never hand out this block, read the counter again next time.
            state.State.NextId = first;
            DeactivateOnIdle();
            throw;
        }

        return first;
    }
}
