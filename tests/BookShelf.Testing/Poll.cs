using System.Diagnostics;

namespace BookShelf.Testing;

/// <summary>Waits for a condition that only polling can observe (a process answering HTTP), with a timeout that names what was awaited.</summary>
public static class Poll
{
    /// <summary>Re-checks <paramref name="condition"/> every <paramref name="every"/> (default 100 ms) until it holds; throws <see cref="TimeoutException"/> naming <paramref name="what"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? every = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(every ?? TimeSpan.FromMilliseconds(100));
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex) when ((ex is HttpRequestException or IOException or TaskCanceledException or System.Net.Sockets.SocketException) && !cancellationToken.IsCancellationRequested)
            {
                // Not up yet.
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:F0} s waiting for {what}.");
            }

            await timer.WaitForNextTickAsync(cancellationToken);
        }
    }
}
