using System.Net;

namespace BookShelf.Testing;

/// <summary>
/// A stand-in OpenTelemetry collector on loopback: accepts OTLP/HTTP exports (<c>POST /v1/traces</c>, protobuf) and
/// keeps their bodies. Protobuf stores strings and trace ids as raw bytes, so a test can look for a service name
/// or a trace id in them without decoding.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<byte[]> _exports = [];
    private readonly Task _serving;

    private OtlpReceiver(int port)
    {
        Port = port;
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _serving = ServeAsync();
    }

    /// <summary>Its port.</summary>
    public int Port { get; }

    /// <summary>The endpoint to configure as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (with protocol <c>http/protobuf</c>).</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Every trace export received so far.</summary>
    public IReadOnlyList<byte[]> Exports
    {
        get
        {
            lock (_exports)
            {
                return [.. _exports];
            }
        }
    }

    /// <summary>Starts a receiver on a free port.</summary>
    public static OtlpReceiver Start() => new(Ports.Free());

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _listener.Close();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (context.Request.Url?.AbsolutePath == "/v1/traces")
            {
                lock (_exports)
                {
                    _exports.Add(body.ToArray());
                }
            }

            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }
}
