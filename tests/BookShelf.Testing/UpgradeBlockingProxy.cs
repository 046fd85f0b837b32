using System.Net;
using System.Net.Sockets;
using System.Text;

namespace BookShelf.Testing;

/// <summary>
/// A TCP proxy on loopback in front of a gateway that lets HTTP through and refuses WebSocket upgrades (as a
/// proxy that strips them would make them fail): any request with <c>Upgrade: websocket</c> gets a 400 and its
/// connection closed. What the browser's fallback to Server-Sent Events is tested behind.
/// </summary>
public sealed class UpgradeBlockingProxy : IAsyncDisposable
{
    private static readonly byte[] Refusal = Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _refused;

    private UpgradeBlockingProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    /// <summary>The proxy's base address.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>Upgrades refused so far.</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <summary>Starts a proxy to the gateway on <paramref name="targetPort"/>.</summary>
    public static UpgradeBlockingProxy Start(int targetPort) => new(targetPort);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                return; // the gateway is down: the browser sees the connection close
            }

            using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var up = PumpAsync(client.GetStream(), server.GetStream(), inspect: true, client.GetStream(), done.Token);
            var down = PumpAsync(server.GetStream(), client.GetStream(), inspect: false, null, done.Token);
            await Task.WhenAny(up, down);
            await done.CancelAsync();
            await Task.WhenAll(up, down).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool inspect, NetworkStream? back, CancellationToken token)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, token);
                if (read == 0)
                {
                    return;
                }

                if (inspect && Encoding.ASCII.GetString(buffer, 0, read).Contains("\r\nupgrade: websocket", StringComparison.OrdinalIgnoreCase))
                {
                    Interlocked.Increment(ref _refused);
                    await back!.WriteAsync(Refusal, token);
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }
}
