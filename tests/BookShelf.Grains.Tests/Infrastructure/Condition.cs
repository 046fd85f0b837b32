namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>
/// Lets a test wait for a condition that other threads make true: they call <see cref="Pulse"/> after each
/// change, and <see cref="WaitAsync"/> re-checks on every pulse until the condition holds or time runs out.
/// </summary>
public sealed class Condition
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Wakes the waiters to check their condition again.</summary>
    public void Pulse() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until <paramref name="condition"/> holds; fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public async Task WaitAsync(Func<bool> condition, string what, TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, TestContext.Current.CancellationToken);
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (condition())
            {
                return;
            }

            try
            {
                await changed.WaitAsync(linked.Token);
            }
            catch (OperationCanceledException) when (timer.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:F0} s waiting for {what}.");
            }
        }
    }
}
