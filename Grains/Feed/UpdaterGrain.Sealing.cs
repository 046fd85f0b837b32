namespace BookShelf.Grains.Feed;

/// <summary>
/// The feed's sealing: a full page is stored (the page, then its keys into the index) between the updater's turns,
/// off the path of the append that filled it, and the next head write lets the tail go of it. The rules are
/// <see cref="PageSealer"/>'s; this part stores and schedules.
/// </summary>
public sealed partial class UpdaterGrain
{
    /// <summary>How long a feed with no appends waits before it stores again a page whose store failed.</summary>
    private static readonly TimeSpan SealRetryAfter = TimeSpan.FromSeconds(1);

    private readonly PageSealer _sealer = new();

    /// <summary>
    /// Seals every full page before answering anything (on activation: a crash between storing a full tail and
    /// sealing it leaves the tail full). A crash anywhere in between leaves the events in the tail, and sealing again
    /// writes the same page and the same keys.
    /// </summary>
    private async Task SealFullPagesAsync()
    {
        while (_sealer.NextToStore(state.State, _reader.PageSize) is { } page)
        {
            try
            {
                await StorePageAsync(page);
            }
            catch
            {
                _sealer.StoreEnded(page, succeeded: false);
                throw;
            }

            _sealer.StoreEnded(page, succeeded: true);
            await LetGoOfStoredPageAsync();
        }
    }

    /// <summary>
    /// Starts storing the tail's first full page off the append's path (<see cref="PageSealer"/>), unless one is being
    /// stored or waits for the head. It runs on this activation, between its turns, and touches other grains only.
    /// </summary>
    private void StartSealing()
    {
        if (_sealer.NextToStore(state.State, _reader.PageSize) is { } page)
        {
            _ = StorePageInBackgroundAsync(page);
        }
    }

    private async Task StorePageInBackgroundAsync(FullPage page)
    {
        // The store belongs to no one caller: the request context of the append that started it stays with that append.
        RequestContext.Clear();
        try
        {
            await StorePageAsync(page);
        }
        catch (Exception ex)
        {
            // The events stay in the tail. The next append stores the page again, or, if none comes, a turn of its own a
            // little later (or the next activation, if this one is going).
            _sealer.StoreEnded(page, succeeded: false);
            LogSealFailed(logger, ex, _group, page.Page);
            RunOnce(SealRetryAfter, page.Page, () =>
            {
                StartSealing();
                return Task.CompletedTask;
            });
            return;
        }

        // The next append's write lets go of the page; if none comes first, a turn of its own does.
        _sealer.StoreEnded(page, succeeded: true);
        RunOnce(TimeSpan.Zero, page.Page, async () =>
        {
            await LetGoOfStoredPageAsync();
            StartSealing();
        });
    }

    /// <summary>
    /// Runs <paramref name="work"/> once, after <paramref name="dueTime"/>, as a turn of this activation that never
    /// interleaves with a call's (both may write the head). Nothing, if the activation is going.
    /// </summary>
    private void RunOnce(TimeSpan dueTime, long page, Func<Task> work)
    {
        try
        {
            IGrainTimer? timer = null;
            timer = this.RegisterGrainTimer(
                async _ =>
                {
                    timer?.Dispose();
                    await work();
                },
                new GrainTimerCreationOptions(dueTime, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = false });
        }
        catch (Exception ex)
        {
            // The activation is going: the next append, or the next activation, seals the page.
            LogSealTurnNotScheduled(logger, ex, _group, page);
        }
    }

    /// <summary>The page, then its keys into the index: both before the head may let go of the events.</summary>
    private async Task StorePageAsync(FullPage page)
    {
        await GrainFactory.GetGrain<IFeedPageGrain>(PageKey(page.Page)).WriteAsync(page.Events);
        await Task.WhenAll(AppendedKeys.ByBucket(page.Events).Select(b => GrainFactory.GetGrain<IFeedIndexGrain>(IndexKey(b.Bucket)).AddAsync(b.Keys)));
    }

    /// <summary>Writes the head without the stored page, when one waits and no append's write took it first.</summary>
    /// <remarks>
    /// Like every head write, after <see cref="RefreshIfIdleAsync"/>: an idle activation reads the head (and its keys)
    /// again first. The stored page survives that: it is let go of only if the head read still starts with it.
    /// </remarks>
    private async Task LetGoOfStoredPageAsync()
    {
        await RefreshIfIdleAsync();
        if (_sealer.TakeStored(state.State, _reader.PageSize) is { } letGo)
        {
            try
            {
                await state.WriteStateAsync();
                _storageTouched = Environment.TickCount64;
            }
            catch
            {
                // The page and its keys are stored; keeping the events in the tail too is harmless and the next write seals again.
                PageSealer.Undo(state.State, letGo);
                DeactivateOnIdle();
                throw;
            }

            OnPageLetGo(letGo);
        }
    }

    /// <summary>The head's write without <paramref name="letGo"/>'s page is stored: the tail's keys and the reader follow.</summary>
    private void OnPageLetGo(PageLetGo? letGo)
    {
        if (letGo is null)
        {
            return;
        }

        _sealer.LetGoStored();
        _keys.Sealed(letGo.Events);
        _reader.Sealed(letGo.Page, letGo.Events);
        LogSealed(logger, _group, letGo.Page);
    }

    [LoggerMessage(1003, LogLevel.Debug, "Feed {Group} sealed page {Page}")]
    private static partial void LogSealed(ILogger logger, string group, long page);

    [LoggerMessage(1008, LogLevel.Warning, "Feed {Group} could not store page {Page}; its events stay in the tail and it is stored again")]
    private static partial void LogSealFailed(ILogger logger, Exception exception, string group, long page);

    [LoggerMessage(1009, LogLevel.Debug, "Feed {Group}: no turn could be scheduled for page {Page}; the next append or activation seals it")]
    private static partial void LogSealTurnNotScheduled(ILogger logger, Exception exception, string group, long page);
}
