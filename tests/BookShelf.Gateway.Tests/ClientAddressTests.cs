using BookShelf.Gateway.Posts;

namespace BookShelf.Gateway.Tests;

/// <summary>Limits and caps count IPv6 clients by their /64, IPv4 ones by their address.</summary>
public sealed class ClientAddressTests
{
    [Fact]
    public void AddressesOfOneIpv6SlashSixtyFourCountAsOneClient()
    {
        Assert.Equal(ClientAddress.KeyOf(IPAddress.Parse("2001:db8:1:2:3:4:5:6")), ClientAddress.KeyOf(IPAddress.Parse("2001:db8:1:2:ffff::1")));
        Assert.NotEqual(ClientAddress.KeyOf(IPAddress.Parse("2001:db8:1:2::1")), ClientAddress.KeyOf(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal("203.0.113.7", ClientAddress.KeyOf(IPAddress.Parse("::ffff:203.0.113.7")));
        Assert.Equal("203.0.113.7", ClientAddress.KeyOf(IPAddress.Parse("203.0.113.7")));
        Assert.Equal("unknown", ClientAddress.KeyOf(null));
    }
}

/// <summary>Who may read <c>/metrics</c>.</summary>
public sealed class MetricsAccessTests
{
    [Fact]
    public void MetricsAreForThisMachineUnlessAllowed()
    {
        Assert.True(BookShelf.ServiceDefaults.ServiceDefaultsExtensions.MetricsAllowed(IPAddress.Loopback, allowRemote: false));
        Assert.True(BookShelf.ServiceDefaults.ServiceDefaultsExtensions.MetricsAllowed(IPAddress.Parse("127.0.0.9"), allowRemote: false));
        Assert.False(BookShelf.ServiceDefaults.ServiceDefaultsExtensions.MetricsAllowed(IPAddress.Parse("203.0.113.7"), allowRemote: false));
        Assert.True(BookShelf.ServiceDefaults.ServiceDefaultsExtensions.MetricsAllowed(IPAddress.Parse("203.0.113.7"), allowRemote: true));
    }
}
