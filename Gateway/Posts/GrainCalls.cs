using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// Grain calls made for HTTP requests: each attempt bounded by <see cref="GatewayOptions.GrainCallTimeout"/>,
/// and a call that failed because a silo died, moved, was paused or could not reach storage is tried again
/// (with a short growing pause) until <see cref="GatewayOptions.RequestRetryBudget"/> runs out. Only calls that
/// are safe to repeat come here: reads, and writes that carry their own id (a post's id, a request id).
/// An answer from the grain itself (bad input, not found, a reused key) is final and never retried. When the
/// budget runs out the last failure is thrown: its outcome is unknown, and the API says so (503).
/// </summary>
public sealed partial class GrainCalls(IOptions<GatewayOptions> options, TimeProvider time, ILogger<GrainCalls> logger)
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs <paramref name="call"/>, retrying failures of the cluster within <paramref name="budget"/> (by default
    /// <see cref="GatewayOptions.RequestRetryBudget"/>).
    /// </summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken = default, TimeSpan? budget = null)
    {
        ArgumentNullException.ThrowIfNull(call);
        var settings = options.Value;
        var retryBudget = budget ?? settings.RequestRetryBudget;
        var started = time.GetTimestamp();
        var pause = FirstPause;
        for (var attempt = 1; ; attempt++)
        {
            // No attempt runs past the budget: the request answers within it, whatever the cluster does.
            var left = retryBudget - time.GetElapsedTime(started);
            var timeout = left < settings.GrainCallTimeout && left > TimeSpan.Zero ? left : settings.GrainCallTimeout;
            try
            {
                return await call().WaitAsync(timeout, time, cancellationToken);
            }
            catch (Exception ex) when (IsClusterFailure(ex) && !cancellationToken.IsCancellationRequested)
            {
                var elapsed = time.GetElapsedTime(started);
                if (elapsed + pause >= retryBudget)
                {
                    LogGaveUp(logger, ex, attempt, elapsed.TotalMilliseconds);
                    throw;
                }

                LogRetrying(logger, attempt, ex.GetType().Name);
                await Task.Delay(pause, time, cancellationToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
            }
        }
    }

    /// <summary>
    /// True for failures that say nothing about the request itself: the cluster or its storage did not answer
    /// (timeouts, a dead or moving silo, a lost connection, a storage write that failed). A grain's own answer is
    /// not one of them.
    /// </summary>
    public static bool IsClusterFailure(Exception exception) => exception is not (
        BookShelfValidationException or BookShelfNotFoundException or IdempotencyKeyReusedException or ArgumentException);

    [LoggerMessage(5101, LogLevel.Information, "Grain call attempt {Attempt} failed ({Failure}); retrying")]
    private static partial void LogRetrying(ILogger logger, int attempt, string failure);

    [LoggerMessage(5102, LogLevel.Warning, "Grain call failed after {Attempts} attempt(s) in {Elapsed:F0} ms; the outcome is unknown")]
    private static partial void LogGaveUp(ILogger logger, Exception exception, int attempts, double elapsed);
}
