using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Streams;
using BookShelf.Grains.Interfaces.Batching;

namespace BookShelf.Grains.Feed;

/// <summary>
/// The post-event stream's copies of a silo's fresh events, one per silo. The stream is the second path of an event
/// (its post's confirmation with the feed is the guarantee, and the feed takes whichever comes second as a repeat),
/// so its copies need not go at once: a group's copies are gathered for <see cref="FeedOptions.StreamCopyDelay"/>
/// and published as one stream batch (one queue message, delivered in order as one batch to the group's
/// <see cref="UpdaterGrain"/>), off the request's path. Published as they came, the copies were most of the messages
/// between the silos under a high post rate (0.86 requests per post; gathered, 0.29), and each was a turn of the hot
/// updater.
/// The copies of one group leave in the order they came. A post only publishes events whose older events are
/// confirmed, so a late copy never overtakes its post's earlier events. At most <see cref="MaxPending"/> copies
/// wait; beyond that they are dropped (the confirmations still deliver them), as are copies a silo holds when it
/// stops. Dropped copies are counted (<c>bookshelf.feed.stream_copies_dropped</c>).
/// </summary>
public sealed partial class StreamCopies
{
    /// <summary>Copies waiting in one silo at most.</summary>
    public const int MaxPending = 10_000;

    private readonly Func<string, IReadOnlyList<FeedEvent>, Task> _publish;
    private readonly TimeSpan _delay;
    private readonly TimeProvider _time;
    private readonly Diagnostics.FeedMetrics _metrics;
    private readonly ILogger<StreamCopies> _logger;
    private readonly Dictionary<string, List<FeedEvent>> _pending = new(StringComparer.Ordinal);
    private int _count;

    /// <summary>Publishes on the silo's post-event stream.</summary>
    public StreamCopies(IServiceProvider services, IOptions<FeedOptions> options, TimeProvider time, Diagnostics.FeedMetrics metrics, ILogger<StreamCopies> logger)
        : this(StreamPublisher(services), options, time, metrics, logger)
    {
    }

    /// <summary>Publishes with <paramref name="publish"/> (tests).</summary>
    internal StreamCopies(Func<string, IReadOnlyList<FeedEvent>, Task> publish, IOptions<FeedOptions> options, TimeProvider time, Diagnostics.FeedMetrics metrics, ILogger<StreamCopies> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _publish = publish;
        _delay = options.Value.StreamCopyDelay;
        _time = time;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Queues copies of <paramref name="events"/> (in order, any groups) and returns at once.</summary>
    public void Publish(IReadOnlyList<FeedEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        List<string>? groupsToStart = null;
        var dropped = 0;
        lock (_pending)
        {
            foreach (var feedEvent in events)
            {
                if (_count >= MaxPending)
                {
                    dropped++;
                    continue;
                }

                if (!_pending.TryGetValue(feedEvent.Group, out var queue))
                {
                    queue = [];
                    _pending[feedEvent.Group] = queue;
                    (groupsToStart ??= []).Add(feedEvent.Group);
                }

                queue.Add(feedEvent);
                _count++;
            }
        }

        if (dropped > 0)
        {
            _metrics.StreamCopiesDropped(dropped);
            LogDropped(_logger, dropped, MaxPending);
        }

        foreach (var group in groupsToStart ?? [])
        {
            // The group's copies belong to no one caller.
            Detached.Run(() => FlushAsync(group));
        }
    }

    /// <summary>
    /// Publishes a group's copies until none wait: after each delay, everything that came meanwhile (in batches of at
    /// most <see cref="FeedAppender.MaxBatch"/>). The group leaves the table only when its queue is empty, under the
    /// lock, so the next copy starts a new flusher and no two run for one group.
    /// </summary>
    private async Task FlushAsync(string group)
    {
        try
        {
            await FlushLoopAsync(group);
        }
        catch (Exception ex)
        {
            // Never expected (a publish failure is caught below); but a flusher that ended here would leave its
            // group in the table with no one to publish it, and its copies counting against the cap for good.
            int lost;
            lock (_pending)
            {
                lost = _pending.Remove(group, out var queue) ? queue.Count : 0;
                _count -= lost;
            }

            _metrics.StreamCopiesDropped(lost);
            LogFlusherFailed(_logger, ex, group, lost);
        }
    }

    private async Task FlushLoopAsync(string group)
    {
        while (true)
        {
            await Task.Delay(_delay, _time);
            while (true)
            {
                List<FeedEvent> batch;
                lock (_pending)
                {
                    var queue = _pending[group];
                    if (queue.Count == 0)
                    {
                        _pending.Remove(group);
                        return;
                    }

                    var take = Math.Min(queue.Count, FeedAppender.MaxBatch);
                    batch = queue.GetRange(0, take);
                    queue.RemoveRange(0, take);
                    _count -= take;
                }

                try
                {
                    await _publish(group, batch);
                }
                catch (Exception ex)
                {
                    LogFailed(_logger, ex, group, batch.Count);
                }

                lock (_pending)
                {
                    // What came during the publish waits for the next delay, so that it goes as a batch too.
                    if (_pending[group].Count < FeedAppender.MaxBatch)
                    {
                        break;
                    }
                }
            }
        }
    }

    private static Func<string, IReadOnlyList<FeedEvent>, Task> StreamPublisher(IServiceProvider services)
    {
        var provider = new Lazy<IStreamProvider>(() => services.GetRequiredKeyedService<IStreamProvider>(StorageNames.StreamProvider));
        return (group, events) =>
        {
            var stream = provider.Value.GetStream<FeedEvent>(StreamId.Create(StorageNames.StreamNamespace, group));
            return events.Count == 1 ? stream.OnNextAsync(events[0]) : stream.OnNextBatchAsync(events);
        };
    }

    [LoggerMessage(2203, LogLevel.Debug, "Stream copies of {Count} event(s) for {Group} not published; their feed confirmations cover them")]
    private static partial void LogFailed(ILogger logger, Exception exception, string group, int count);

    [LoggerMessage(2204, LogLevel.Debug, "{Count} stream copies dropped: {MaxPending} already wait; their feed confirmations cover them")]
    private static partial void LogDropped(ILogger logger, int count, int maxPending);

    [LoggerMessage(2205, LogLevel.Warning, "The stream copies of {Group} stopped; {Count} waiting copies dropped (their feed confirmations cover them)")]
    private static partial void LogFlusherFailed(ILogger logger, Exception exception, string group, int count);
}
