using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using BookShelf.Gateway.Options;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// Kestrel connection middleware: when a new connection's first request is a plain, well-formed WebSocket
/// upgrade to <c>/ws/update_notice/</c>, it answers the handshake itself and serves the WebSocket straight on the
/// connection's transport pipes, below HTTP. Such a connection then costs a socket, its two pipes and one
/// <see cref="WebSocketSession"/>: no HTTP request, headers or middleware chain kept alive for its whole life,
/// and every event frame goes into the transport with one copy. Anything else (other paths, unusual requests,
/// later requests on a keep-alive connection) goes on to Kestrel's HTTP layer untouched, where
/// <see cref="UpdateNoticeEndpoint"/> applies the same rules.
/// </summary>
public sealed partial class UpdateNoticeFastPath(ConnectionDelegate next, IServiceProvider services)
{
    /// <summary>The largest request head the fast path reads; anything bigger goes to HTTP.</summary>
    public const int MaxHeadBytes = 8 * 1024;

    private static readonly byte[] Prefix = Encoding.ASCII.GetBytes("GET " + UpdateNoticeEndpoint.Path);

    /// <summary>Serves one connection.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var accepted = await AcceptAsync(connection);
        if (!accepted.Ours)
        {
            await next(connection);
            return;
        }

        if (accepted.Session is { } session)
        {
            await session.RunAsync(accepted.Resumes);
        }

        await connection.Transport.Output.CompleteAsync();
    }

    /// <summary>
    /// Reads the first request head. Not an upgrade for this endpoint: not ours (nothing consumed). Refused: the
    /// problem is answered. Accepted: the session is in its groups, the 101 answer sent, the connection attached.
    /// Everything only the handshake needs stays in this method, so it is gone while the connection lives.
    /// </summary>
    private async Task<Accepted> AcceptAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        if (IsFromKnownProxy(connection))
        {
            // Behind a proxy the client's address and scheme are in forwarded headers, which HTTP reads.
            return default;
        }

        var limits = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        UpgradeRequest? request;
        // One deadline for the request head, Kestrel's own: a client that sends nothing, or a head a byte at a
        // time, is dropped when it runs out, not handed to HTTP to start its timers again.
        using (var timeout = new CancellationTokenSource(limits.RequestHeadersTimeout))
        {
            try
            {
                request = await ReadHeadAsync(input, connection.Features.Get<ITlsHandshakeFeature>() is null ? "http" : "https", limits.MaxRequestHeaderCount, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                LogHeadTimedOut(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(UpdateNoticeFastPath)), limits.RequestHeadersTimeout.TotalSeconds);
                connection.Abort();
                return new Accepted(true, null, []);
            }
        }

        if (request is null)
        {
            return default;
        }

        try
        {
            if (!HostIsAllowed(request.Host, services.GetRequiredService<IConfiguration>()["AllowedHosts"]))
            {
                // The head is read already: answer as host filtering would, here.
                await OutputOf(connection).SendAsync(WebSocketHandshake.Problem(StatusCodes.Status400BadRequest, "Bad host", "This host name is not served here (AllowedHosts)."));
                return new Accepted(true, null, []);
            }

            var accepted = await UpgradeHandler.AcceptAsync(request, new Transport(connection), services);
            return accepted is { } a ? new Accepted(true, a.Session, a.Resumes) : new Accepted(true, null, []);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ConnectionResetException or ConnectionAbortedException or IOException)
        {
            // The client went away during the handshake.
            return new Accepted(true, null, []);
        }
    }

    /// <summary>The fast path's way of answering: raw bytes on the connection's own transport.</summary>
    private sealed class Transport(ConnectionContext connection) : UpgradeHandler.ITransport
    {
        private readonly FrameOutput _output = OutputOf(connection);

        public System.Net.IPAddress? RemoteAddress => (connection.RemoteEndPoint as System.Net.IPEndPoint)?.Address;

        public CancellationToken Aborted => connection.ConnectionClosed;

        public async Task RefuseAsync(int status, string title, string detail) =>
            await _output.SendAsync(WebSocketHandshake.Problem(status, title, detail));

        public async Task<(PipeReader Input, FrameOutput Output, Action Abort)?> SwitchAsync(string key) =>
            await _output.SendAsync(WebSocketHandshake.SwitchingProtocols(key)) ? (connection.Transport.Input, _output, connection.Abort) : null;
    }

    /// <summary>
    /// Straight to the socket when the connection is plain TCP (the transport's output pipe is then never used);
    /// through the transport's pipe otherwise (TLS).
    /// </summary>
    private static FrameOutput OutputOf(ConnectionContext connection)
    {
        if (connection.Features.Get<ITlsHandshakeFeature>() is null && connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
        {
            socket.Blocking = false;
            return new FrameOutput.Socket(socket);
        }

        return new FrameOutput.Pipe(connection.Transport.Output);
    }

    /// <summary>
    /// Reads the first request head if it can be the fast path's; returns null (having consumed nothing) when it
    /// is not, and consumes the head when it is.
    /// </summary>
    private static async Task<UpgradeRequest?> ReadHeadAsync(PipeReader input, string scheme, int maxHeaders, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var prefix = Math.Min(buffer.Length, Prefix.Length);
            if (!StartsWith(buffer.Slice(0, prefix), Prefix.AsSpan(0, (int)prefix)))
            {
                input.AdvanceTo(buffer.Start);
                return null;
            }

            var end = Find(buffer, "\r\n\r\n"u8);
            if (end is null)
            {
                if (buffer.Length > MaxHeadBytes || result.IsCompleted)
                {
                    input.AdvanceTo(buffer.Start);
                    return null;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            var head = buffer.Slice(0, end.Value);
            var request = head.Length <= MaxHeadBytes ? Parse(Encoding.Latin1.GetString(head), scheme, maxHeaders) : null;
            input.AdvanceTo(request is null ? buffer.Start : buffer.GetPosition(4, end.Value));
            return request;
        }
    }

    /// <summary>
    /// Parses a request head; null unless it is exactly a plain HTTP/1.1 WebSocket upgrade of the endpoint's path
    /// (anything unusual is left to Kestrel, which answers it properly).
    /// </summary>
    internal static UpgradeRequest? Parse(string head, string scheme, int maxHeaders = 100)
    {
        var lines = head.Split("\r\n");
        if (lines.Length - 1 > maxHeaders)
        {
            // Kestrel answers this with 431.
            return null;
        }

        var requestLine = lines[0].Split(' ');
        if (requestLine is not ["GET", var target, "HTTP/1.1"])
        {
            return null;
        }

        var question = target.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? target : target[..question];
        if (path is not (UpdateNoticeEndpoint.Path or UpdateNoticeEndpoint.Path + "/"))
        {
            return null;
        }

        string? host = null, origin = null, upgrade = null, connectionHeader = null, version = null, key = null;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || line[0] is ' ' or '\t' || line.AsSpan(0, colon).ContainsAny(' ', '\t'))
            {
                return null;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            switch (name.ToLowerInvariant())
            {
                case "host" when host is null: host = value; break;
                case "origin" when origin is null: origin = value; break;
                case "upgrade" when upgrade is null: upgrade = value; break;
                case "connection" when connectionHeader is null: connectionHeader = value; break;
                case "sec-websocket-version" when version is null: version = value; break;
                case "sec-websocket-key" when key is null: key = value; break;
                case "host" or "origin" or "upgrade" or "connection" or "sec-websocket-version" or "sec-websocket-key":
                case "content-length" or "transfer-encoding" or "expect":
                    return null;
            }
        }

        if (host is null || !IsValidHost(host) || !WebSocketHandshake.IsUpgrade(upgrade, connectionHeader, version, key))
        {
            return null;
        }

        return new UpgradeRequest(scheme, host, origin, question < 0 ? "" : target[(question + 1)..], key!);
    }

    private bool IsFromKnownProxy(ConnectionContext connection)
    {
        var proxies = services.GetRequiredService<IOptions<GatewayOptions>>().Value.KnownProxies;
        return proxies.Length > 0 && connection.RemoteEndPoint is System.Net.IPEndPoint remote
            && proxies.Any(p => System.Net.IPAddress.TryParse(p, out var ip) && (ip.Equals(remote.Address) || ip.Equals(remote.Address.MapToIPv4())));
    }

    /// <summary>A <c>Host</c> Kestrel would take: a DNS name, an IPv4 or a bracketed IPv6 address, and an optional port.</summary>
    internal static bool IsValidHost(string host)
    {
        var name = host;
        var colon = host.LastIndexOf(':');
        if (colon > host.LastIndexOf(']'))
        {
            var port = host[(colon + 1)..];
            if (port.Length is 0 or > 5 || !port.All(char.IsAsciiDigit))
            {
                return false;
            }

            name = host[..colon];
        }

        if (name.StartsWith('[') && name.EndsWith(']'))
        {
            return Uri.CheckHostName(name[1..^1]) == UriHostNameType.IPv6;
        }

        return Uri.CheckHostName(name) is UriHostNameType.Dns or UriHostNameType.IPv4;
    }

    /// <summary>The <c>AllowedHosts</c> setting, as the host filtering middleware reads it: <c>*</c>, names, or <c>*.suffix</c>.</summary>
    internal static bool HostIsAllowed(string host, string? allowedHosts)
    {
        if (string.IsNullOrWhiteSpace(allowedHosts) || allowedHosts.Trim() == "*")
        {
            return true;
        }

        var name = host.StartsWith('[') ? host[..(host.IndexOf(']') + 1)] : host.Split(':')[0];
        foreach (var allowed in allowedHosts.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (allowed == "*" || string.Equals(allowed, name, StringComparison.OrdinalIgnoreCase)
                || (allowed.StartsWith("*.", StringComparison.Ordinal) && name.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(4102, LogLevel.Debug, "WebSocket handshake: no complete request head within {Seconds} s; connection dropped")]
    private static partial void LogHeadTimedOut(ILogger logger, double seconds);

    private readonly record struct Accepted(bool Ours, WebSocketSession? Session, (string Group, long Resume)[] Resumes);

    private static bool StartsWith(ReadOnlySequence<byte> sequence, ReadOnlySpan<byte> expected)
    {
        if (sequence.IsSingleSegment)
        {
            return sequence.FirstSpan.SequenceEqual(expected);
        }

        Span<byte> copy = stackalloc byte[expected.Length];
        sequence.CopyTo(copy);
        return copy.SequenceEqual(expected);
    }

    private static SequencePosition? Find(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> delimiter)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, delimiter, advancePastDelimiter: false) ? reader.Position : null;
    }
}
