using System.IO.Pipelines;
using System.Net;
using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// The one upgrade sequence, whichever way the request came (below HTTP in <see cref="UpdateNoticeFastPath"/>, or
/// through <see cref="UpdateNoticeEndpoint"/>): the rules (origin, groups), the connection caps, joining the groups
/// before the answer, the 101, attaching the connection. Each way supplies only how to answer and how to switch.
/// </summary>
public static class UpgradeHandler
{
    /// <summary>How one way of serving a request answers it.</summary>
    public interface ITransport
    {
        /// <summary>The client's address (for the caps).</summary>
        IPAddress? RemoteAddress { get; }

        /// <summary>Fires when the client goes away.</summary>
        CancellationToken Aborted { get; }

        /// <summary>Answers with a problem; the connection is not upgraded.</summary>
        Task RefuseAsync(int status, string title, string detail);

        /// <summary>Sends the 101 for <paramref name="key"/> and returns the connection's pipes; null when it could not be sent.</summary>
        Task<(PipeReader Input, FrameOutput Output, Action Abort)?> SwitchAsync(string key);
    }

    /// <summary>
    /// Runs the upgrade; returns the attached session and the groups it resumes once running, or null when the
    /// request was refused (answered) or the client left during the handshake.
    /// </summary>
    public static async Task<(WebSocketSession Session, (string Group, long Resume)[] Resumes)?> AcceptAsync(UpgradeRequest request, ITransport transport, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(services);
        var decision = UpdateNoticeEndpoint.Decide(request, services.GetRequiredService<IOptions<GatewayOptions>>().Value);
        if (decision.Status != StatusCodes.Status101SwitchingProtocols)
        {
            if (decision.Status == StatusCodes.Status403Forbidden)
            {
                UpdateNoticeEndpoint.LogOriginRefused(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(UpdateNoticeEndpoint)), request.Origin ?? "");
            }

            await transport.RefuseAsync(decision.Status, decision.Title!, decision.Detail!);
            return null;
        }

        if (services.GetRequiredService<Extensions.ClusterContact>().IsLost)
        {
            await transport.RefuseAsync(StatusCodes.Status503ServiceUnavailable, "Cluster unreachable", UpdateNoticeEndpoint.ClusterLostDetail);
            return null;
        }

        if (services.GetRequiredService<ConnectionCaps>().TryAcquire(transport.RemoteAddress, out var refusal) is not { } lease)
        {
            await transport.RefuseAsync(refusal, "Too many connections", UpdateNoticeEndpoint.CapDetail(refusal));
            return null;
        }

        var session = await UpdateNoticeEndpoint.JoinAsync(decision, services, lease, transport.Aborted);
        (PipeReader Input, FrameOutput Output, Action Abort)? connection;
        try
        {
            connection = await transport.SwitchAsync(request.Key);
        }
        catch
        {
            await session.LeaveAllAsync();
            throw;
        }

        if (connection is not { } attached)
        {
            await session.LeaveAllAsync();
            return null;
        }

        session.Attach(attached.Input, attached.Output, attached.Abort);
        return (session, UpdateNoticeEndpoint.Resumes(decision));
    }
}
