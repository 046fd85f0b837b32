using System.Diagnostics;
using BookShelf.Gateway.Accounts;

namespace BookShelf.Grains.Tests;

/// <summary>
/// Gateways accept a checked session on a lease from its user's grain; ending the session makes every holder forget
/// it before the end is acknowledged, and an activation that cannot know its predecessor's leases outlasts them.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SessionLeaseTests(ClusterFixture fixture)
{
    [Fact]
    public async Task EndingASessionMakesEveryGatewayHoldingALeaseForgetItBeforeItReturns()
    {
        var (user, name, session) = await UserWithSessionAsync();
        var gateways = new[] { StartGateway(), StartGateway() };
        foreach (var gateway in gateways)
        {
            Assert.True(await gateway.CheckAsync(name, session, holder => user.CheckSessionAsync(session, holder!)));
            Assert.True(gateway.IsLeased(name, session));
        }

        await user.EndSessionAsync(session);

        Assert.All(gateways, gateway => Assert.False(gateway.IsLeased(name, session)));
        Assert.Equal(SessionLease.Inactive, await user.CheckSessionAsync(session, fixture.Grains.CreateObjectReference<ISessionObserver>(gateways[0])));
    }

    [Fact]
    public async Task ASessionIsLeasedNoLongerThanItLasts()
    {
        var (user, _, _) = await UserWithSessionAsync();
        var shortLived = Guid.NewGuid().ToString("N");
        await user.StartSessionAsync(shortLived, DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(300));
        var gateway = StartGateway();

        var lease = await user.CheckSessionAsync(shortLived, fixture.Grains.CreateObjectReference<ISessionObserver>(gateway));

        Assert.True(lease.Active);
        Assert.InRange(lease.For, TimeSpan.Zero, TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task ASignOutOnANewActivationOutlastsTheLeasesItsPredecessorMayHaveGranted()
    {
        var (user, name, session) = await UserWithSessionAsync();
        var gateway = StartGateway();
        Assert.True(await gateway.CheckAsync(name, session, holder => user.CheckSessionAsync(session, holder!)));

        // The activation that granted the lease goes (as when its silo dies); the next call makes a new one.
        // (Every idle activation of this cluster goes with it; the tests sharing it run one at a time and keep their state in storage.)
        await fixture.DeactivateAsync(user, TestContext.Current.CancellationToken);

        var ending = Stopwatch.StartNew();
        await user.EndSessionAsync(session);

        // The new activation never heard of the lease, so it could not tell the gateway: it waited as long as a lease
        // it might have granted itself could run, from its own start (which came after the stopwatch's).
        Assert.True(ending.Elapsed >= fixture.SessionLease, $"the sign-out returned after {ending.Elapsed}, inside a lease of {fixture.SessionLease}");
        Assert.Equal(SessionLease.Inactive, await user.CheckSessionAsync(session, fixture.Grains.CreateObjectReference<ISessionObserver>(gateway)));
    }

    [Fact]
    public async Task ASignOutOnANewActivationDoesNotWaitWhenItsPredecessorEndedWithNoLeaseRunning()
    {
        var (user, name, session) = await UserWithSessionAsync();
        var gateway = StartGateway();
        Assert.True(await gateway.CheckAsync(name, session, holder => user.CheckSessionAsync(session, holder!)));
        await Poll.UntilAsync(() => Task.FromResult(!gateway.IsLeased(name, session)), fixture.SessionLease + TimeSpan.FromSeconds(10), "the lease ran out", cancellationToken: TestContext.Current.CancellationToken);

        // Collected with every lease run out (as an idle activation always is): it stores that none is left.
        await fixture.DeactivateAsync(user, TestContext.Current.CancellationToken);

        var ending = Stopwatch.StartNew();
        await user.EndSessionAsync(session);

        // Waiting would have taken a whole lease; a plain sign-out takes a storage write.
        Assert.True(ending.Elapsed < fixture.SessionLease, $"the sign-out waited {ending.Elapsed}, a lease is {fixture.SessionLease}");
        Assert.Equal(SessionLease.Inactive, await user.CheckSessionAsync(session, fixture.Grains.CreateObjectReference<ISessionObserver>(gateway)));
    }

    private SessionLeaseCache StartGateway()
    {
        var gateway = new SessionLeaseCache(fixture.Grains, TimeProvider.System);
        gateway.Start();
        return gateway;
    }

    private async Task<(IUserGrain User, string Name, string Session)> UserWithSessionAsync()
    {
        var name = "u" + Guid.NewGuid().ToString("N")[..12];
        var user = fixture.Grains.GetGrain<IUserGrain>(name);
        Assert.True(await user.RegisterAsync(name, "not-a-real-hash"));
        var session = Guid.NewGuid().ToString("N");
        await user.StartSessionAsync(session, DateTimeOffset.UtcNow + TimeSpan.FromHours(1));
        return (user, name, session);
    }
}
