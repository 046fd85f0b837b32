namespace BookShelf.Gateway.Feed;

/// <summary>
/// Starts the node's <see cref="GatewayFeed"/> and <see cref="Presence.PresenceTracker"/> once the Orleans client is
/// connected, and disposes them on shutdown (the tracker says goodbye: its connections leave the totals at once).
/// </summary>
public sealed class GatewayFeedService(GatewayFeed feed, Presence.PresenceTracker presence) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        feed.Start();
        presence.Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await presence.DisposeAsync();
        await feed.DisposeAsync();
    }
}
