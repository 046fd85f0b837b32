namespace BookShelf.Grains;

/// <summary>Names of the grain storage providers and streams. The silo and the test cluster register under these.</summary>
public static class StorageNames
{
    /// <summary>Posts with their likes, comments and outbox.</summary>
    public const string Posts = "posts";

    /// <summary>Group feeds: the updater's head and the sealed pages.</summary>
    public const string Feeds = "feeds";

    /// <summary>User accounts.</summary>
    public const string Users = "users";

    /// <summary>Idempotency keys: what each was first used for.</summary>
    public const string Requests = "requests";

    /// <summary>Id block counters.</summary>
    public const string Ids = "ids";

    /// <summary>Every grain storage provider name: each host registers storage under all of them.</summary>
    public static IReadOnlyList<string> All { get; } = [Posts, Feeds, Users, Requests, Ids];

    /// <summary>The stream provider posts publish their events on.</summary>
    public const string StreamProvider = "feed-stream";

    /// <summary>The stream namespace; the stream key is the group name.</summary>
    public const string StreamNamespace = "feed";
}
