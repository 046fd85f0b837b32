namespace BookShelf.Gateway.Feed;

/// <summary>
/// Starts the node's <see cref="GatewayFeed"/>, <see cref="Presence.PresenceTracker"/> and <see cref="Accounts.SessionLeaseCache"/> once the Orleans client is
/// connected, and disposes them on shutdown (the tracker says goodbye: its connections leave the totals at once).
/// </summary>
public sealed class GatewayFeedService(GatewayFeed feed, Presence.PresenceTracker presence, Accounts.SessionLeaseCache sessions) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        feed.Start();
        presence.Start();
        sessions.Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await presence.DisposeAsync();
        await feed.DisposeAsync();
    }
}
