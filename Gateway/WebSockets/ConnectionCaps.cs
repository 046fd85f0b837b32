using System.Net;
using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// How many WebSockets this gateway holds, in all (<see cref="GatewayOptions.MaxConnections"/>) and per client
/// address (<see cref="GatewayOptions.MaxConnectionsPerAddress"/>). An upgrade past either is refused before it
/// joins anything: 429 for the address, 503 for the gateway. Every granted <see cref="Lease"/> is given back once.
/// </summary>
public sealed class ConnectionCaps(IOptions<GatewayOptions> options)
{
    private readonly Dictionary<string, int> _perAddress = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _total;

    /// <summary>A lease for one more connection from <paramref name="address"/>, or null with the status to refuse it with.</summary>
    public Lease? TryAcquire(IPAddress? address, out int refusal)
    {
        var key = Posts.ClientAddress.KeyOf(address);
        var settings = options.Value;
        lock (_lock)
        {
            if (_total >= settings.MaxConnections)
            {
                refusal = StatusCodes.Status503ServiceUnavailable;
                return null;
            }

            _perAddress.TryGetValue(key, out var held);
            if (held >= settings.MaxConnectionsPerAddress)
            {
                refusal = StatusCodes.Status429TooManyRequests;
                return null;
            }

            _perAddress[key] = held + 1;
            _total++;
        }

        refusal = 0;
        return new Lease(this, key);
    }

    private void Release(string key)
    {
        lock (_lock)
        {
            _total--;
            if (_perAddress.TryGetValue(key, out var held) && held > 1)
            {
                _perAddress[key] = held - 1;
            }
            else
            {
                _perAddress.Remove(key);
            }
        }
    }

    /// <summary>One held connection; disposing gives it back (once).</summary>
    public sealed class Lease(ConnectionCaps caps, string key) : IDisposable
    {
        private int _released;

        /// <inheritdoc />
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                caps.Release(key);
            }
        }
    }
}
