namespace BookShelf.Gateway.Tests;

/// <summary>
/// The real system for gateway tests: redis-server, one silo and two gateway processes on loopback, with small
/// limits so each limit can be reached quickly.
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    /// <summary>Replay limit of the feeds.</summary>
    public const int MaxReplay = 200;

    /// <summary>Groups one connection may join.</summary>
    public const int MaxSubscriptions = 4;

    /// <summary>Frames queued per connection before it is too slow.</summary>
    public const int SendQueueLimit = 16;

    /// <summary>Sign-in attempts per user name per window.</summary>
    public const int SignInLimit = 5;

    /// <summary>WebSockets per client address.</summary>
    public const int ConnectionsPerAddress = 200;

    /// <summary>Writes per user per window.</summary>
    public const int WriteLimit = 40;

    /// <summary>The system.</summary>
    public LocalSystem System { get; private set; } = null!;

    /// <summary>The first gateway.</summary>
    public GatewayNode Gateway => System.Gateways[0];

    /// <summary>The second gateway.</summary>
    public GatewayNode OtherGateway => System.Gateways[1];

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        System = await LocalSystem.StartAsync(new LocalSystemOptions
        {
            Silos = 1,
            Gateways = 2,
            SiloArguments = ["--Feed:MaxReplay", MaxReplay.ToString()],
            GatewayArguments =
            [
                "--Gateway:MaxSubscriptionsPerConnection", MaxSubscriptions.ToString(),
                "--Gateway:SendQueueLimit", SendQueueLimit.ToString(),
                "--Gateway:SocketSendBufferBytes", "16384",
                "--Gateway:SignInPermitLimit", SignInLimit.ToString(),
                "--Gateway:WritePermitLimit", WriteLimit.ToString(),
                "--Gateway:SignInPermitLimitPerAddress", "100000",
                "--Gateway:SignUpPermitLimitPerAddress", "100000",
                "--Gateway:SignUpPermitLimit", "100000",
                "--Gateway:WritePermitLimitPerAddress", "100000",
                "--Gateway:MaxConnectionsPerAddress", ConnectionsPerAddress.ToString(),
                "--Kestrel:Limits:RequestHeadersTimeout", "00:00:05",
            ],
        });
    }

    /// <summary>A script client of the first gateway, signed in as a fresh user.</summary>
    public async Task<ApiClient> SignedInClientAsync(GatewayNode? gateway = null)
    {
        var client = new ApiClient((gateway ?? Gateway).BaseAddress);
        await client.SignUpAndSignInAsync();
        return client;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (System is not null)
        {
            await System.DisposeAsync();
        }
    }
}

/// <summary>Tests sharing one <see cref="GatewayFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Gateway";
}
