namespace BookShelf.Testing.Lab;

/// <summary>
/// A <see cref="LocalSystem"/> on a <see cref="NetworkLab"/> of its own, with resuming clients spread over its
/// gateways, all live once started; disposed together (clients, then the system, then the lab's namespaces).
/// </summary>
public sealed class LabCluster : IAsyncDisposable
{
    private LabCluster(NetworkLab lab, LocalSystem system, IReadOnlyList<ResilientFeedClient> clients)
    {
        Lab = lab;
        System = system;
        Clients = clients;
    }

    /// <summary>The hosts and the faults between them.</summary>
    public NetworkLab Lab { get; }

    /// <summary>Redis, silos and gateways, each on its host.</summary>
    public LocalSystem System { get; }

    /// <summary>The clients, alternating between the gateways.</summary>
    public IReadOnlyList<ResilientFeedClient> Clients { get; }

    /// <summary>
    /// Makes the lab's <paramref name="hosts"/>, starts the system on them (<paramref name="options"/>, with
    /// <see cref="LocalSystemOptions.Lab"/> set here) and <paramref name="clients"/> clients, and waits until every
    /// client is live; everything made is ended again if a step fails.
    /// </summary>
    public static async Task<LabCluster> StartAsync(IEnumerable<string> hosts, LocalSystemOptions options, int clients)
    {
        var lab = NetworkLab.Create(hosts);
        LocalSystem? system = null;
        var started = new List<ResilientFeedClient>();
        try
        {
            system = await LocalSystem.StartAsync(options with { Lab = lab });
            for (var i = 0; i < clients; i++)
            {
                started.Add(new ResilientFeedClient(system.Gateways, first: i % system.Gateways.Count));
            }

            foreach (var client in started)
            {
                await client.WaitLiveAsync(TimeSpan.FromSeconds(30));
            }

            return new LabCluster(lab, system, started);
        }
        catch
        {
            await DisposeAsync(lab, system, started);
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DisposeAsync(Lab, System, Clients);

    private static async ValueTask DisposeAsync(NetworkLab lab, LocalSystem? system, IEnumerable<ResilientFeedClient> clients)
    {
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        if (system is not null)
        {
            await system.DisposeAsync();
        }

        await lab.DisposeAsync();
    }
}
