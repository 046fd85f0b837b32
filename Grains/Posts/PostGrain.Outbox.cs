using Orleans.Runtime;
using Orleans.Storage;

namespace BookShelf.Grains.Posts;

/// <summary>
/// The post's outbox: marking events in the journal and storing them with the change, confirming them with their
/// feeds (and publishing fresh ones on the stream), retrying what failed, and settling what the sweep asks about.
/// </summary>
public sealed partial class PostGrain
{
    /// <summary>Drops from the outbox read from storage the events already confirmed.</summary>
    private async Task DropConfirmedAsync()
    {
        var outbox = state.State.Outbox;
        if (outbox.Count == 0)
        {
            return;
        }

        // A confirmed event stays in the stored outbox until the post's next write (clearing it would cost a write
        // per change). The journal tells which are confirmed: an event is marked before it is stored and unmarked
        // only once its feed has it. Without an answer, every event is confirmed again (appends are idempotent).
        // The journal and the posts live in the same Redis, and the mark is written before the post: a Redis that
        // kept the post (append-only file, replication) kept the earlier mark too, so a lost mark cannot make an
        // unconfirmed event look confirmed.
        try
        {
            var pending = await journal.PendingAsync(Id, [.. outbox.Select(e => e.Key)]);
            outbox.RemoveAll(e => !pending.Contains(e.Key));
        }
        catch (Exception ex)
        {
            LogJournalUnreadable(logger, ex, Id);
        }
    }

    /// <inheritdoc />
    public async Task<bool> SettleAsync(IReadOnlyList<string> journalKeys)
    {
        ArgumentNullException.ThrowIfNull(journalKeys);
        // A stale activation (its silo paused past its death) must not answer from memory: storage decides.
        await state.ReadStateAsync();
        if (!state.RecordExists && !await TryStoreAbsentAsync())
        {
            await state.ReadStateAsync();
        }

        _comments = null;
        await DropConfirmedAsync();
        var settled = await TryDeliverAsync();
        var waiting = state.State.Outbox.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        var done = journalKeys.Where(k => !waiting.Contains(k)).ToList();
        if (done.Count > 0)
        {
            // In this turn, so no change of this post can mark one of these keys again in between.
            await journal.RemoveAsync([.. done.Select(k => new PendingEvent(Id, k))]);
        }

        return settled;
    }

    /// <summary>
    /// Stores "no post" under this id, only if nothing is stored yet; false when something is (a create got there
    /// first). A new post is stored by <see cref="PostCreatorGrain"/>, outside this grain's turns, after its journal
    /// mark: a sweep that found no post must not let go of that mark while the create's write may still land (a post
    /// stored without its mark would never be confirmed). Once "no post" is stored, such a write finds the id taken
    /// and the create is carried out by this grain, in its turns.
    /// </summary>
    private async Task<bool> TryStoreAbsentAsync()
    {
        state.State = new PostState();
        try
        {
            await state.WriteStateAsync();
            return true;
        }
        catch (InconsistentStateException)
        {
            return false;
        }
    }

    /// <summary>Confirms what waits in the outbox; false (logged) when a feed could not be reached.</summary>
    private async Task<bool> TryDeliverAsync()
    {
        try
        {
            await DeliverOutboxAsync();
            return true;
        }
        catch (Exception)
        {
            // Logged in DeliverOutboxAsync; the caller tries again later.
            return false;
        }
    }

    /// <summary>
    /// Marks the events in the journal, then stores the changes with their events in the outbox, in one write. When
    /// the write fails the changes are undone in memory, and the activation reads storage again next time: a write
    /// that timed out may still have been stored, and then its outbox delivers it.
    /// </summary>
    private async Task StoreAsync(IReadOnlyList<FeedEvent> feedEvents, Action rollback)
    {
        try
        {
            await journal.MarkPendingAsync(Id, [.. feedEvents.Select(e => e.Key)]);
            state.State.Outbox.AddRange(feedEvents);
            await state.WriteStateAsync();
            _freshOutbox = state.State.Outbox.Count == feedEvents.Count;
        }
        catch
        {
            state.State.Outbox.RemoveAll(e => feedEvents.Contains(e));
            rollback();
            DeactivateOnIdle();
            throw;
        }
    }

    /// <summary>
    /// Confirms the outbox events with their feeds (the guarantee), in order, through the silo's
    /// <see cref="Feed.FeedAppender"/>: each run of events for the same group goes as one request, stored in one
    /// batch (events of other posts arriving together share that write), then they are unmarked in the journal.
    /// The outbox is cleared in memory only: storage keeps the confirmed events until the post's next write, and an
    /// activation drops those the journal no longer holds. Fresh events (when the outbox holds only what was just
    /// stored) also go to the stream, in order, through the silo's <see cref="Feed.StreamCopies"/>; events left by a
    /// failure are only confirmed, so a stream copy can never overtake an older event of the same post. Throws if a feed cannot be
    /// reached; the events stay in the outbox and are retried.
    /// </summary>
    private async Task DeliverOutboxAsync()
    {
        var outbox = state.State.Outbox;
        if (outbox.Count == 0)
        {
            return;
        }

        var pending = outbox.ToArray();
        if (_freshOutbox)
        {
            streamCopies.Publish(pending);
        }

        _freshOutbox = false;
        try
        {
            for (var from = 0; from < pending.Length;)
            {
                var to = from + 1;
                while (to < pending.Length && pending[to].Group == pending[from].Group)
                {
                    to++;
                }

                var run = pending[from..to];
                await appender.AppendAsync(run);
                foreach (var feedEvent in run)
                {
                    outbox.Remove(feedEvent);
                }

                journal.MarkSettled(Id, [.. run.Select(e => e.Key)]);

                from = to;
            }
        }
        catch (Exception ex)
        {
            LogDeliveryFailed(logger, ex, Id, outbox.Count);
            ScheduleRetry();
            throw;
        }
    }

    private void ScheduleRetry()
    {
        if (_retryTimer is not null)
        {
            return;
        }

        var interval = options.Value.OutboxRetryInterval;
        _retryTimer = this.RegisterGrainTimer(RetryAsync, new GrainTimerCreationOptions(interval, interval) { Interleave = false, KeepAlive = true });
    }

    private async Task RetryAsync(CancellationToken cancellationToken)
    {
        if (state.State.Outbox.Count > 0 && !await TryDeliverAsync())
        {
            return;
        }

        _retryTimer?.Dispose();
        _retryTimer = null;
    }

    [LoggerMessage(2004, LogLevel.Warning, "Post {PostId}: the outbox journal could not be read on activation; confirming every stored event again")]
    private static partial void LogJournalUnreadable(ILogger logger, Exception exception, long postId);

    [LoggerMessage(2003, LogLevel.Warning, "Post {PostId}: {Pending} event(s) not yet in their feeds; retrying")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, long postId, int pending);
}
