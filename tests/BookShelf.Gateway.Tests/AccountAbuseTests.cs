using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;

namespace BookShelf.Gateway.Tests;

/// <summary>Sign-up and sign-in under abuse: floods are limited, lockouts stay with the attacker, timing tells nothing.</summary>
[Collection(GatewayCollection.Name)]
public sealed class AccountAbuseTests(GatewayFixture fixture)
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task AttackerElsewhereCannotLockTheOwnerOut()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        var user = await api.SignUpAndSignInAsync();
        using var attacker = From("127.0.0.50");
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < GatewayFixture.SignInLimit + 1; i++)
        {
            using var wrong = await attacker.PostAsJsonAsync("/api/tokens", new { username = user, password = "not it at all" }, TestContext.Current.CancellationToken);
            statuses.Add(wrong.StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        using var owner = From("127.0.0.51");
        using var signedIn = await owner.PostAsJsonAsync("/api/tokens", new { username = user, password = Password }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Created, signedIn.StatusCode);
    }

    [Fact]
    public async Task UnknownUserTakesAsLongAsAWrongPassword()
    {
        // Before: 5 ms against 97 ms, which told an attacker which names exist. Medians of several tries, and a wide margin.
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        var user = await api.SignUpAndSignInAsync();
        using var http = From("127.0.0.52");
        async Task<double> MedianAsync(string name)
        {
            var times = new List<double>();
            for (var i = 0; i < 4; i++)
            {
                var clock = Stopwatch.StartNew();
                using var response = await http.PostAsJsonAsync("/api/tokens", new { username = name, password = "not it at all" }, TestContext.Current.CancellationToken);
                times.Add(clock.Elapsed.TotalMilliseconds);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }

            return times.Order().ElementAt(times.Count / 2);
        }

        var wrongPassword = await MedianAsync(user);
        var unknownUser = await MedianAsync("nobody" + Guid.NewGuid().ToString("N")[..10]);
        Assert.True(unknownUser > wrongPassword * 0.4, $"unknown user {unknownUser:F1} ms, wrong password {wrongPassword:F1} ms");
    }

    [Fact]
    public async Task SignUpsPastTheLimitPerAddressGet429()
    {
        // Counts are the cluster's: an address of its own, so other tests' sign-ups do not count here.
        var small = await fixture.System.StartGatewayAsync(extraArguments: ["--Gateway:SignUpPermitLimitPerAddress", "3", "--Gateway:SignUpPermitLimit", "100000"]);
        try
        {
            using var http = From("127.0.0.60");
            http.BaseAddress = small.BaseAddress;
            var statuses = new List<HttpStatusCode>();
            for (var i = 0; i < 4; i++)
            {
                using var response = await http.PostAsJsonAsync("/api/accounts", new { username = "flood" + Guid.NewGuid().ToString("N")[..10], password = Password }, TestContext.Current.CancellationToken);
                statuses.Add(response.StatusCode);
            }

            Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.TooManyRequests], statuses);
        }
        finally
        {
            await small.Process.StopAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task HugeUserNamesAreRefusedWithoutBecomingLimiterKeys()
    {
        using var http = From("127.0.0.53");
        // A name too long to be one is refused without being used for anything; a huge body is not even read.
        using (var tooLong = await http.PostAsJsonAsync("/api/tokens", new { username = new string('a', 3000), password = "whatever it is" }, TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, tooLong.StatusCode);
        }

        foreach (var path in new[] { "/api/tokens", "/api/accounts" })
        {
            // The gateway answers 413 after at most 4 KiB and closes the connection: a client still writing the rest
            // of the megabyte may see that close (a broken pipe) before it reads the answer. Either is a refusal;
            // anything the gateway could answer after reading the body (401, 400, 201) fails the test.
            try
            {
                using var huge = await http.PostAsJsonAsync(path, new { username = new string('a', 1024 * 1024), password = "whatever it is" }, TestContext.Current.CancellationToken);
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
            }
            catch (HttpRequestException cut) when (cut.InnerException is IOException)
            {
            }
        }

        // Nothing of it stayed behind: the gateway serves the next request from the same address as usual.
        using var next = await http.PostAsJsonAsync("/api/tokens", new { username = "nobody-here", password = "whatever it is" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, next.StatusCode);
    }

    /// <summary>A client whose connections come from <paramref name="address"/> (a loopback address of its own).</summary>
    private HttpClient From(string address) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    {
        BaseAddress = fixture.Gateway.BaseAddress,
    };
}
