using System.ComponentModel.DataAnnotations;

namespace BookShelf.Silo;

/// <summary>Where this silo listens and how it reaches Redis (configuration section <c>Silo</c>).</summary>
public sealed class SiloOptions : BookShelf.ServiceDefaults.RedisClientOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Silo";

    /// <summary>The address other silos and gateways use to reach this silo (never 0.0.0.0).</summary>
    [Required]
    public string AdvertisedIP { get; set; } = "127.0.0.1";

    /// <summary>
    /// The address to listen on when it is not <see cref="AdvertisedIP"/> (behind NAT or a proxy: the others reach
    /// this silo at AdvertisedIP:SiloPort and :GatewayPort, which lead here); empty, the default: AdvertisedIP.
    /// </summary>
    public string ListenIP { get; set; } = "";

    /// <summary>With <see cref="ListenIP"/>: the port to listen on for silos when it is not <see cref="SiloPort"/> (0: SiloPort).</summary>
    [Range(0, 65535)]
    public int ListenSiloPort { get; set; }

    /// <summary>With <see cref="ListenIP"/>: the port to listen on for gateways when it is not <see cref="GatewayPort"/> (0: GatewayPort).</summary>
    [Range(0, 65535)]
    public int ListenGatewayPort { get; set; }

    /// <summary>Silo-to-silo port.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port gateways (Orleans clients) connect to.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Membership probe timeout: how fast a dead silo is noticed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.200", "00:01:00")]
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Redis replicas that must hold a grain-state write before it counts (Redis <c>WAIT</c>); 0, the default,
    /// acknowledges what the primary has (asynchronous replication: a failover can lose the last writes). With 1 and
    /// one replica, a post answered 201 survives the primary's loss, and writes are refused (503) while no replica is
    /// connected. See docs/deployment.md.
    /// </summary>
    [Range(0, 16)]
    public int RedisReplicasToAck { get; set; }

    /// <summary>How long a write waits for <see cref="RedisReplicasToAck"/> replicas before it fails.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:30")]
    public TimeSpan RedisReplicaAckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Serve the Orleans Dashboard at <c>/dashboard</c> on this silo's HTTP port (off by default: it profiles every
    /// grain call). It answers only requests from this machine unless <see cref="DashboardAllowRemote"/>.
    /// </summary>
    public bool Dashboard { get; set; }

    /// <summary>Let the dashboard answer other machines too (put it behind your own authentication first).</summary>
    public bool DashboardAllowRemote { get; set; }
}
