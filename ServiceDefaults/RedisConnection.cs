using System.Net.Sockets;
using StackExchange.Redis;

namespace BookShelf.ServiceDefaults;

/// <summary>How silos and gateways connect to Redis (a server, or Sentinels with <c>serviceName=</c>).</summary>
public static class RedisConnection
{
    private const int IpProtoTcp = 6;
    private const int TcpUserTimeout = 18; // Linux: linux/tcp.h

    /// <summary>The connection options for a silo's or gateway's <paramref name="settings"/> (section <paramref name="section"/>, for messages).</summary>
    public static ConfigurationOptions Options(RedisClientOptions settings, string section)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Options(settings.Redis, settings.RedisUnreachableAfter, section, settings.RedisCaCertificatePath);
    }

    /// <summary>
    /// Parses <paramref name="connectionString"/> and sets what every BookShelf connection needs: it connects in the
    /// background when Redis is down, reconnects every half second, and drops a connection whose sent data the
    /// other machine has not acknowledged for <paramref name="unreachableAfter"/> (Linux <c>TCP_USER_TIMEOUT</c>).
    /// Without that, a Redis cut off by the network (not refusing: silent) kept the connection open for as long as
    /// TCP retransmits — minutes — so a client never asked the Sentinels for the promoted replica, and after the
    /// network healed the retransmission backoff still held its commands for seconds.
    /// </summary>
    public static ConfigurationOptions Options(string connectionString, TimeSpan unreachableAfter, string section, string caCertificatePath = "")
    {
        // Checked here as well as on start: the connection is made while the host is being built, before the
        // options' own validation runs, and a bad value must say which setting it is.
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException($"{section}:Redis is required: the Redis server, or the Sentinels and serviceName=.");
        }

        if (unreachableAfter < TimeSpan.FromSeconds(1) || unreachableAfter > TimeSpan.FromMinutes(5))
        {
            throw new InvalidOperationException($"{section}:RedisUnreachableAfter must be between 00:00:01 and 00:05:00.");
        }

        var redis = ConfigurationOptions.Parse(connectionString);
        if (caCertificatePath.Length > 0)
        {
            if (!File.Exists(caCertificatePath))
            {
                throw new InvalidOperationException($"{section}:RedisCaCertificatePath: no file at '{caCertificatePath}'.");
            }

            if (!redis.Ssl)
            {
                throw new InvalidOperationException($"{section}:RedisCaCertificatePath is set but {section}:Redis has no ssl=true: the connection would not use it.");
            }

            // Server certificates must chain to this authority (and name the host connected to, or sslHost=).
            try
            {
                redis.TrustIssuer(caCertificatePath);
            }
            catch (System.Security.Cryptography.CryptographicException ex)
            {
                throw new InvalidOperationException($"{section}:RedisCaCertificatePath: '{caCertificatePath}' is not a certificate ({ex.Message}).", ex);
            }
        }

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

            try
            {
                // Keep-alive probes every second on idle connections (a Sentinel subscription sends nothing), so a
                // silent peer is noticed there too; TCP_USER_TIMEOUT (Linux only) bounds how long they go unanswered.
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
                socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 1);
                socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 1);
                if (OperatingSystem.IsLinux())
                {
                    socket.SetRawSocketOption(IpProtoTcp, TcpUserTimeout, milliseconds);
                }
            }
            catch (Exception ex) when (ex is SocketException or PlatformNotSupportedException)
            {
                // A platform without these options connects as before: a silent Redis is given up only by the
                // client's own timeouts.
            }
        };
        return redis;
    }

    /// <summary>
    /// Keeps at least 16 pool threads (or one per core, if more) ready: through Sentinel, StackExchange.Redis follows
    /// a failover on pool threads that it blocks (sync Sentinel queries and reconfigurations, each up to its 5 s
    /// timeout while a Redis host is cut off). With the default minimum of one thread per core, every grain call
    /// then stalled for seconds: in the lab, with the Redis primary cut off, writes came back 16.7-19.9 s after the
    /// cut; with 16, 12.6-14.6 s.
    /// </summary>
    public static void ReservePoolThreads()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        var wanted = Math.Max(16, Environment.ProcessorCount);
        ThreadPool.SetMinThreads(Math.Max(workers, wanted), Math.Max(io, wanted));
    }
}
