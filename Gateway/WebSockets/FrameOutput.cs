using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// Where a session's frames go. <see cref="SendAsync"/> completes synchronously when everything went out (the
/// usual case), and asynchronously when the socket had no room; the session never has two sends pending.
/// </summary>
public abstract class FrameOutput
{
    /// <summary>Sends <paramref name="bytes"/>; the result is false when the connection is gone.</summary>
    public abstract ValueTask<bool> SendAsync(ReadOnlyMemory<byte> bytes);

    /// <summary>Frames written straight to a plain-TCP socket with a non-blocking <c>send()</c>: one system call per frame.</summary>
    public sealed class Socket(System.Net.Sockets.Socket socket) : FrameOutput
    {
        /// <inheritdoc />
        public override ValueTask<bool> SendAsync(ReadOnlyMemory<byte> bytes)
        {
            int sent;
            SocketError error;
            try
            {
                sent = socket.Send(bytes.Span, SocketFlags.None, out error);
            }
            catch (ObjectDisposedException)
            {
                return new ValueTask<bool>(false);
            }

            if (error == SocketError.Success && sent == bytes.Length)
            {
                return new ValueTask<bool>(true);
            }

            return error is SocketError.Success or SocketError.WouldBlock
                ? new ValueTask<bool>(SendRestAsync(bytes[Math.Max(0, sent)..]))
                : new ValueTask<bool>(false);
        }

        private async Task<bool> SendRestAsync(ReadOnlyMemory<byte> rest)
        {
            try
            {
                while (rest.Length > 0)
                {
                    rest = rest[await socket.SendAsync(rest, SocketFlags.None)..];
                }

                return true;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return false;
            }
        }
    }

    /// <summary>Frames written to a pipe (over TLS, or on the HTTP fallback), flushed after each send.</summary>
    public sealed class Pipe(PipeWriter writer) : FrameOutput
    {
        /// <inheritdoc />
        public override ValueTask<bool> SendAsync(ReadOnlyMemory<byte> bytes)
        {
            ValueTask<FlushResult> flush;
            try
            {
                writer.Write(bytes.Span);
                flush = writer.FlushAsync();
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException)
            {
                return new ValueTask<bool>(false);
            }

            return flush.IsCompletedSuccessfully ? new ValueTask<bool>(!flush.Result.IsCompleted && !flush.Result.IsCanceled) : AwaitAsync(flush);
        }

        private static async ValueTask<bool> AwaitAsync(ValueTask<FlushResult> flush)
        {
            try
            {
                var result = await flush;
                return !result.IsCompleted && !result.IsCanceled;
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
            {
                return false;
            }
        }
    }
}
