using System.Net.Sockets;
using StackExchange.Redis;

namespace BookShelf.ServiceDefaults;

/// <summary>How silos and gateways connect to Redis (a server, or Sentinels with <c>serviceName=</c>).</summary>
public static class RedisConnection
{
    private const int IpProtoTcp = 6;
    private const int TcpUserTimeout = 18; // Linux: linux/tcp.h

    /// <summary>
    /// Parses <paramref name="connectionString"/> and sets what every BookShelf connection needs: it connects in the
    /// background when Redis is down, reconnects every half second, and drops a connection whose sent data the
    /// other machine has not acknowledged for <paramref name="unreachableAfter"/> (Linux <c>TCP_USER_TIMEOUT</c>).
    /// Without that, a Redis cut off by the network (not refusing: silent) kept the connection open for as long as
    /// TCP retransmits — minutes — so a client never asked the Sentinels for the promoted replica, and after the
    /// network healed the retransmission backoff still held its commands for seconds.
    /// </summary>
    public static ConfigurationOptions Options(string connectionString, TimeSpan unreachableAfter)
    {
        var redis = ConfigurationOptions.Parse(connectionString);
        redis.AbortOnConnectFail = false;
        // After Redis restarts, reconnect every half second instead of backing off exponentially (up to 10 s between
        // tries by default): every write waits for Redis, so each second of backoff is a second of 503s.
        redis.ReconnectRetryPolicy = new LinearRetry(500);
        // Each server's role is checked every 2 s (default 60): after a failover the promoted replica is one of the
        // servers this connection already knows, and the client switches to it only when it sees its new role.
        redis.ConfigCheckSeconds = 2;
        var milliseconds = BitConverter.GetBytes((int)unreachableAfter.TotalMilliseconds);
        redis.BeforeSocketConnect = (_, _, socket) =>
        {
            if (socket.ProtocolType != ProtocolType.Tcp)
            {
                return;
            }

            // Keep-alive probes every second on idle connections (a Sentinel subscription sends nothing), so a silent
            // peer is noticed there too; on Linux TCP_USER_TIMEOUT also bounds how long the probes go unanswered.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 1);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 1);
            if (OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption(IpProtoTcp, TcpUserTimeout, milliseconds);
            }
        };
        return redis;
    }
}
