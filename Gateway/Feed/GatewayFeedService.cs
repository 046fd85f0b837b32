namespace BookShelf.Gateway.Feed;

/// <summary>Starts the node's <see cref="GatewayFeed"/> once the Orleans client is connected, and disposes it on shutdown.</summary>
public sealed class GatewayFeedService(GatewayFeed feed) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        feed.Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken) => await feed.DisposeAsync();
}
