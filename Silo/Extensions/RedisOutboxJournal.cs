using System.Globalization;
using BookShelf.Grains.Posts;
using StackExchange.Redis;

namespace BookShelf.Silo.Extensions;

/// <summary>
/// The outbox journal as one Redis sorted set (<c>{serviceId}:outbox-pending</c>): members
/// <c>{postId}|{eventKey}</c>, scored by the time they were first marked. Redis runs with the append-only file,
/// so a mark that returned survives a Redis restart like the post it protects.
/// </summary>
public sealed class RedisOutboxJournal(IConnectionMultiplexer redis, string serviceId, TimeProvider time) : IOutboxJournal
{
    private readonly RedisKey _key = $"{serviceId}:outbox-pending";

    private IDatabase Db => redis.GetDatabase();

    /// <inheritdoc />
    public Task MarkPendingAsync(long postId, IReadOnlyList<string> eventKeys)
    {
        ArgumentNullException.ThrowIfNull(eventKeys);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return Db.SortedSetAddAsync(_key, [.. eventKeys.Select(k => new SortedSetEntry(Member(postId, k), now))], SortedSetWhen.NotExists);
    }

    /// <inheritdoc />
    public void MarkSettled(long postId, IReadOnlyList<string> eventKeys)
    {
        ArgumentNullException.ThrowIfNull(eventKeys);
        Db.SortedSetRemove(_key, [.. eventKeys.Select(k => (RedisValue)Member(postId, k))], CommandFlags.FireAndForget);
    }

    /// <inheritdoc />
    public async Task<IReadOnlySet<string>> PendingAsync(long postId, IReadOnlyList<string> eventKeys)
    {
        ArgumentNullException.ThrowIfNull(eventKeys);
        var scores = await Db.SortedSetScoresAsync(_key, [.. eventKeys.Select(k => (RedisValue)Member(postId, k))]);
        var pending = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < eventKeys.Count; i++)
        {
            if (scores[i] is not null)
            {
                pending.Add(eventKeys[i]);
            }
        }

        return pending;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PendingEvent>> DueAsync(DateTimeOffset markedBefore, int max)
    {
        var members = await Db.SortedSetRangeByScoreAsync(_key, double.NegativeInfinity, markedBefore.ToUnixTimeMilliseconds(), take: max);
        var due = new List<PendingEvent>(members.Length);
        foreach (var member in members)
        {
            var text = member.ToString();
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar > 0 && long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var postId))
            {
                due.Add(new PendingEvent(postId, text[(bar + 1)..]));
            }
        }

        return due;
    }

    /// <inheritdoc />
    public Task RemoveAsync(IReadOnlyList<PendingEvent> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries.Count == 0 ? Task.CompletedTask : Db.SortedSetRemoveAsync(_key, [.. entries.Select(e => (RedisValue)Member(e.PostId, e.EventKey))]);
    }

    /// <inheritdoc />
    public Task PostponeAsync(IReadOnlyList<PendingEvent> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return entries.Count == 0 ? Task.CompletedTask
            : Db.SortedSetAddAsync(_key, [.. entries.Select(e => new SortedSetEntry(Member(e.PostId, e.EventKey), now))], SortedSetWhen.Exists);
    }

    private static string Member(long postId, string eventKey) => string.Create(CultureInfo.InvariantCulture, $"{postId}|{eventKey}");
}
