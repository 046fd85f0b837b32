namespace BookShelf.Testing.History;

/// <summary>How one HTTP attempt of a write ended.</summary>
public enum AttemptOutcome
{
    /// <summary>201: the post is acknowledged.</summary>
    Created,

    /// <summary>503: the gateway says the outcome is unknown.</summary>
    Unavailable,

    /// <summary>503 saying nothing was changed (the request's sign-in could not be checked, so it never started).</summary>
    Refused,

    /// <summary>Another status (4xx, 5xx other than 503).</summary>
    OtherStatus,

    /// <summary>No answer within the client's timeout: the outcome is unknown.</summary>
    Timeout,

    /// <summary>The gateway refused the connection or it broke: the request may or may not have been received.</summary>
    ConnectionFailed,
}

/// <summary>One HTTP attempt of a write.</summary>
public sealed record Attempt(int Gateway, AttemptOutcome Outcome, int Status, TimeSpan Elapsed, DateTimeOffset SentAt);

/// <summary>
/// One intended write (a post with a unique title) and every attempt at it; attempts after the first reuse the
/// first one's <c>Idempotency-Key</c> when the writer sends keys.
/// </summary>
public sealed class WriteOperation(int number, string title, string? key)
{
    private readonly List<Attempt> _attempts = [];

    /// <summary>The operation's number in the history.</summary>
    public int Number { get; } = number;

    /// <summary>The post's title: unique in the run, so the post list maps back to operations.</summary>
    public string Title { get; } = title;

    /// <summary>The Idempotency-Key every attempt sends (null: none).</summary>
    public string? Key { get; } = key;

    /// <summary>The post id of the acknowledgement, if any attempt got one.</summary>
    public long? AcknowledgedId { get; private set; }

    /// <summary>Every attempt, in order.</summary>
    public IReadOnlyList<Attempt> Attempts
    {
        get
        {
            lock (_attempts)
            {
                return [.. _attempts];
            }
        }
    }

    /// <summary>Records an attempt.</summary>
    public void Record(Attempt attempt, long? postId)
    {
        lock (_attempts)
        {
            _attempts.Add(attempt);
            if (postId is { } id)
            {
                AcknowledgedId ??= id;
            }
        }
    }
}
