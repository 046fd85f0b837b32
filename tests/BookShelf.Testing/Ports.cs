using System.Net;
using System.Net.Sockets;

namespace BookShelf.Testing;

/// <summary>Free loopback ports for test servers.</summary>
public static class Ports
{
    private static readonly HashSet<int> Handed = [];

    /// <summary>A port nothing listens on now, never handed out before in this process.</summary>
    public static int Free()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            lock (Handed)
            {
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
