using BookShelf.Bench.Worker;

namespace BookShelf.Bench.Systems;

/// <summary>A running system the bench drives: where to connect, where to post, which processes are the server.</summary>
public interface ISystemUnderTest : IAsyncDisposable
{
    /// <summary><c>bookshelf</c> or <c>signalr</c>.</summary>
    string Name { get; }

    /// <summary>How its WebSocket frames are read.</summary>
    WireProtocol Protocol { get; }

    /// <summary>One WebSocket URL per gateway process.</summary>
    IReadOnlyList<Uri> WebSocketUris { get; }

    /// <summary>Every server process (gateways, silos, Redis): their CPU and memory are what is measured.</summary>
    IReadOnlyList<int> ServerPids { get; }

    /// <summary>The gateway processes alone.</summary>
    IReadOnlyList<int> GatewayPids { get; }

    /// <summary>Creates a post over HTTP and returns its id once acknowledged.</summary>
    Task<long> CreatePostAsync(string title, CancellationToken cancellationToken);

    /// <summary>How connections on one post's group are read.</summary>
    WireProtocol PostGroupProtocol { get; }

    /// <summary>One WebSocket URL per gateway process, joining post <paramref name="postId"/>'s group.</summary>
    IReadOnlyList<Uri> PostGroupUris(long postId);

    /// <summary>How connections on the site group and a post's group at once are read.</summary>
    WireProtocol SiteAndPostProtocol { get; }

    /// <summary>One WebSocket URL per gateway process, joining the site group and post <paramref name="postId"/>'s group.</summary>
    IReadOnlyList<Uri> SiteAndPostUris(long postId);

    /// <summary>The server's grain activations now (BookShelf: every silo's, from its metrics); null where there are none.</summary>
    Task<long?> ActivationsAsync(CancellationToken cancellationToken);

    /// <summary>Makes <paramref name="users"/> users ready to write (BookShelf: accounts and tokens).</summary>
    Task PrepareUsersAsync(int users, CancellationToken cancellationToken);

    /// <summary>User <paramref name="user"/> comments on the post (returns the comment's id) or toggles a like (returns −1).</summary>
    Task<long> ReactAsync(long postId, int user, bool comment, CancellationToken cancellationToken);
}
