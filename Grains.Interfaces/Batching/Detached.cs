namespace BookShelf.Grains.Interfaces.Batching;

/// <summary>
/// Starts work that belongs to no one caller (a batch loop serving many): on the thread pool, off the caller's
/// scheduler (a grain's, a request's), and without the caller's execution context, so that one request's Orleans
/// request context or trace does not ride into the calls made for the others.
/// </summary>
public static class Detached
{
    /// <summary>Starts <paramref name="work"/> and returns at once; the work handles its own failures.</summary>
    public static void Run(Func<Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (ExecutionContext.IsFlowSuppressed())
        {
            _ = Task.Run(work);
            return;
        }

        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(work);
        }
    }
}
