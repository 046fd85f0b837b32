namespace BookShelf.Gateway.WebSockets;

/// <summary>WebSocket close codes the gateway uses (documented in docs/protocol.md).</summary>
public static class CloseCodes
{
    /// <summary>The client broke the WebSocket protocol: an unmasked or malformed frame (1002).</summary>
    public const int ProtocolError = 1002;

    /// <summary>The client sent a binary message (1003, unsupported data).</summary>
    public const int BinaryMessage = 1003;

    /// <summary>The client sent text that is not valid UTF-8 (1007).</summary>
    public const int InvalidUtf8 = 1007;

    /// <summary>The client sent a message over the size limit (1009).</summary>
    public const int MessageTooBig = 1009;

    /// <summary>The gateway is shutting down: reconnect (to any gateway) and resume (1012, service restart).</summary>
    public const int Restarting = 1012;

    /// <summary>A group could not be joined because the cluster did not answer in time: reconnect and resume (1013, try again later).</summary>
    public const int TryAgainLater = 1013;

    /// <summary>The client did not keep up: reconnect and resume from the last seq it saw (4001).</summary>
    public const int TooSlow = 4001;

    /// <summary>This gateway cannot reach the cluster: reconnect (to another gateway) and resume.</summary>
    public const int ClusterUnreachable = 4002;
}
