using System.ComponentModel.DataAnnotations;

namespace BookShelf.Grains;

/// <summary>Settings of the feeds and the fan-out (configuration section <c>Feed</c>).</summary>
public sealed class FeedOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Feed";

    /// <summary>
    /// Events per sealed page of a new feed. A feed that has sealed a page keeps the size it sealed it with, so
    /// changing this is safe: it applies to the feeds that have sealed none yet.
    /// </summary>
    [Range(8, 4096)]
    public int PageSize { get; set; } = 64;

    /// <summary>How far back a reader may ask to replay; further back gets a reset.</summary>
    [Range(1, 1_000_000)]
    public int MaxReplay { get; set; } = 1000;

    /// <summary>
    /// Buckets of the feed's key index each updater keeps in memory (a bucket holds the keys of up to 256 numbers
    /// of one source). Only a cache: idempotency is exact whatever its size.
    /// </summary>
    [Range(1, 100_000)]
    public int CachedIndexBuckets { get; set; } = 16;

    /// <summary>How long a gateway's subscription lasts without renewal.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// How long a post remembers a request id after the last copy of its request could still arrive: a gateway's own
    /// ids from when they were made, an <c>Idempotency-Key</c>'s from when its key stored the comment it made. A gateway
    /// makes its last attempt within its retry budget (8 s by default) and Orleans drops a message older than its
    /// response timeout (30 s), so no copy arrives later than about 40 s; the default is three times that. Every
    /// remembered id is in the post's state, rewritten with each change, so a busy post pays for each one (10 minutes
    /// made a hot post's writes grow to megabytes).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RequestRetryWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Most comments one post takes; past it a comment is refused (400).</summary>
    [Range(1, 1_000_000)]
    public int MaxCommentsPerPost { get; set; } = 10_000;

    /// <summary>
    /// How long a post's activation stays in its silo's memory once nothing uses it (Orleans' collector looks once a
    /// minute, so it goes up to a minute later). Every post read (a list reads each shown post's counts), commented or liked is
    /// an activation (its create is not: <see cref="Posts.PostCreatorGrain"/> stores it): at Orleans' default of 15 minutes a silo would hold every post in
    /// use in the last quarter of an hour, about 6 KB each. A post read or
    /// written again within it stays; one read later comes back from storage. Must exceed the collector's interval
    /// (<c>GrainCollectionOptions.CollectionQuantum</c>, 1 minute unless changed).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan PostIdleLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a post with undelivered events retries them.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan OutboxRetryInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often each silo looks for post events stored but not confirmed by their feeds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan OutboxSweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an event may stay pending before a sweep takes it up (its own post retries it before that).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan OutboxSweepGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Queues of the post-event stream across the cluster. The stream is the second path of an event (the post's
    /// confirmation with its feed is the guarantee), so a few queues serve any load; each is polled by a
    /// pulling agent on some silo.
    /// </summary>
    [Range(1, 64)]
    public int StreamQueues { get; set; } = 2;

    /// <summary>
    /// How long a silo gathers a group's stream copies before publishing them as one batch. The stream is the second
    /// path of an event, so its copies can wait; gathered, a hot group's copies cost a few queue messages and updater
    /// turns a second instead of one per event.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan StreamCopyDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a stream pulling agent waits after finding its queue empty before polling it again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan StreamPollingPeriod { get; set; } = TimeSpan.FromSeconds(1);
}
