using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace BookShelf.Testing.Lab;

/// <summary>
/// A TCP proxy that holds every byte for <see cref="Delay"/> in each direction before passing it on, in order: the
/// latency of a link, where the kernel has no <c>netem</c>. It listens on the test process's own lab address and
/// forwards to a host's; a silo that advertises the proxy's endpoint is reached by the other silos through it
/// (<see cref="LocalSystemOptions.SiloLinkDelay"/>). Data is read as it comes and released when due, so the delay
/// adds to each message's time, not to the link's throughput.
/// </summary>
public sealed class DelayProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _delayTicks;
    private long _relayed;

    private DelayProxy(IPAddress listenAddress, IPEndPoint target, TimeSpan delay)
    {
        _target = target;
        Delay = delay;
        _listener = new TcpListener(listenAddress, 0);
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    /// <summary>How long each byte is held, each way; may be changed while connections are open.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set => Interlocked.Exchange(ref _delayTicks, value.Ticks);
    }

    /// <summary>Bytes passed on so far, both ways.</summary>
    public long Relayed => Interlocked.Read(ref _relayed);

    /// <summary>The port the proxy listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Starts a proxy on <paramref name="listenAddress"/> (a free port) to <paramref name="target"/>.</summary>
    public static DelayProxy Start(string listenAddress, string targetAddress, int targetPort, TimeSpan delay) =>
        new(IPAddress.Parse(listenAddress), new IPEndPoint(IPAddress.Parse(targetAddress), targetPort), delay);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(RelayAsync(client));
                connections.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        await Task.WhenAll(connections);
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var _ = client;
        using var server = new TcpClient();
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        try
        {
            client.NoDelay = true;
            server.NoDelay = true;
            await server.ConnectAsync(_target, connection.Token);
            var up = PumpAsync(client.GetStream(), server.GetStream(), connection);
            var down = PumpAsync(server.GetStream(), client.GetStream(), connection);
            await Task.WhenAny(up, down);
            await connection.CancelAsync();
            await Task.WhenAll(up, down);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException)
        {
        }
    }

    /// <summary>
    /// Reads <paramref name="from"/> and writes each chunk to <paramref name="to"/> once it is due; returns when either
    /// side ends (the relay then cancels <paramref name="connection"/>, which ends the other direction too).
    /// </summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream to, CancellationTokenSource connection)
    {
        var due = Channel.CreateUnbounded<(long DueTicks, byte[] Data)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = WriteWhenDueAsync();
        try
        {
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var read = await from.ReadAsync(buffer, connection.Token);
                if (read == 0)
                {
                    break;
                }

                due.Writer.TryWrite((Environment.TickCount64 * TimeSpan.TicksPerMillisecond + Delay.Ticks, buffer[..read]));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
        }
        finally
        {
            due.Writer.TryComplete();
        }

        try
        {
            await writer;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
        }

        async Task WriteWhenDueAsync()
        {
            await foreach (var (dueTicks, data) in due.Reader.ReadAllAsync(connection.Token))
            {
                var wait = TimeSpan.FromTicks(dueTicks - Environment.TickCount64 * TimeSpan.TicksPerMillisecond);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, connection.Token);
                }

                await to.WriteAsync(data, connection.Token);
                Interlocked.Add(ref _relayed, data.Length);
            }
        }
    }
}
