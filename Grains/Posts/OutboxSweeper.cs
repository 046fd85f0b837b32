using Orleans.Runtime;

namespace BookShelf.Grains.Posts;

/// <summary>
/// Runs on every silo while it is active: every <see cref="FeedOptions.OutboxSweepInterval"/> it reads the
/// <see cref="IOutboxJournal"/> entries older than <see cref="FeedOptions.OutboxSweepGrace"/> and asks each of
/// their posts to settle its outbox, which activates a post nobody else would. So a stored post reaches its
/// feeds within grace + interval (+ the time to deliver) after any crash, while one silo runs and Redis
/// answers. Sweeps of several silos may overlap: settling is idempotent.
/// </summary>
public sealed partial class OutboxSweeper(
    IGrainFactory grains,
    IOutboxJournal journal,
    IOptions<FeedOptions> options,
    TimeProvider time,
    ILogger<OutboxSweeper> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private const int Batch = 256;
    private CancellationTokenSource? _stopping;
    private Task _loop = Task.CompletedTask;

    /// <inheritdoc />
    public void Participate(ISiloLifecycle observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        observer.Subscribe(nameof(OutboxSweeper), ServiceLifecycleStage.Active, StartAsync, StopAsync);
    }

    /// <summary>One sweep: settles every post with an event pending longer than the grace; returns how many events were settled.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var due = await journal.DueAsync(time.GetUtcNow() - options.Value.OutboxSweepGrace, Batch);
        var settled = 0;
        foreach (var post in due.GroupBy(e => e.PostId))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entries = post.ToList();
            try
            {
                // The post removes what it settled itself, in its own turn (see IPostGrain.SettleAsync).
                if (await grains.GetGrain<IPostGrain>(post.Key).SettleAsync([.. entries.Select(e => e.EventKey)]))
                {
                    settled += entries.Count;
                    continue;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogSettleFailed(logger, ex, post.Key);
            }

            await journal.PostponeAsync(entries);
        }

        if (settled > 0)
        {
            LogSwept(logger, settled);
        }

        return settled;
    }

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = new CancellationTokenSource();
        _loop = LoopAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            await _loop.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
        _stopping = null;
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.OutboxSweepInterval, time);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            try
            {
                await SweepAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Redis unreachable, say: the next tick tries again.
                LogSweepFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(2101, LogLevel.Information, "Outbox sweep: {Count} pending event(s) reached their feeds")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(2102, LogLevel.Warning, "Outbox sweep: post {PostId} could not settle; the next sweep tries again")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception, long postId);

    [LoggerMessage(2103, LogLevel.Warning, "Outbox sweep failed; the next one tries again")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
