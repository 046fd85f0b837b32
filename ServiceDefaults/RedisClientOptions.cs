using System.ComponentModel.DataAnnotations;

namespace BookShelf.ServiceDefaults;

/// <summary>How a silo or a gateway reaches Redis: the part of the <c>Silo</c> and <c>Gateway</c> sections they share.</summary>
public abstract class RedisClientOptions
{
    /// <summary>
    /// Redis connection string (StackExchange.Redis syntax): the server, e.g. <c>127.0.0.1:6390</c>, or the Sentinels
    /// and <c>serviceName=</c>. Silos keep membership and grain state there; gateways membership and the shared
    /// sign-in keys.
    /// </summary>
    [Required]
    public string Redis { get; set; } = "";

    /// <summary>
    /// How long data sent to Redis may go unacknowledged by its machine before the connection is dropped and made
    /// anew (Linux <c>TCP_USER_TIMEOUT</c>): how soon a Redis cut off by the network is given up, so that the
    /// Sentinels are asked for the primary again.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan RedisUnreachableAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// With <c>ssl=true</c> in the connection string: a PEM file with the certificate authority that signed the Redis
    /// servers' (and Sentinels') certificates, when that is a private one the machine does not trust. Empty: the
    /// machine's trust store decides.
    /// </summary>
    public string RedisCaCertificatePath { get; set; } = "";
}
