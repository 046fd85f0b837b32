using System.Net;
using System.Net.Sockets;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// The client address that limits and caps count by: an IPv4 address as it is, an IPv6 address by its /64 (one
/// subscriber usually holds a whole /64, so counting full IPv6 addresses would give each client millions).
/// </summary>
public static class ClientAddress
{
    /// <summary>The key limits and caps use for <paramref name="address"/>.</summary>
    public static string KeyOf(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(address))
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
