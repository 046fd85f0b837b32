namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>A storage write held back by a test (<see cref="ClusterFixture.HoldNextWrite"/>) until it releases it.</summary>
public sealed class HeldWrite
{
    private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the write has arrived and is being held.</summary>
    public Task Arrived => _arrived.Task;

    /// <summary>Lets the write go on to storage.</summary>
    public void Release() => _released.TrySetResult();

    internal async Task HoldAsync(Func<Task> write)
    {
        _arrived.TrySetResult();
        await _released.Task;
        await write();
    }
}
