using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace BookShelf.Gateway.Tests;

/// <summary>Redis is not open to whoever reaches it, and the key ring that signs sign-ins is not readable there.</summary>
[Collection(GatewayCollection.Name)]
public sealed class StorageSecurityTests(GatewayFixture fixture)
{
    [Fact]
    public async Task RedisRefusesAClientWithoutThePassword()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, fixture.System.RedisPort, TestContext.Current.CancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync("KEYS *\r\n"u8.ToArray(), TestContext.Current.CancellationToken);
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer, TestContext.Current.CancellationToken);
        Assert.StartsWith("-NOAUTH", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewayWithoutACertificateWarnsThatTheKeyRingIsNotEncrypted()
    {
        await Poll.UntilAsync(() => Task.FromResult(File.ReadAllText(fixture.Gateway.Process.LogPath).Contains("key ring in Redis is not encrypted", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), "the start-up warning", cancellationToken: TestContext.Current.CancellationToken);
    }
}

/// <summary>A system of its own whose gateway encrypts the key ring with a certificate.</summary>
public sealed class EncryptedKeyRingTests
{
    [Fact]
    public async Task WithACertificateTheKeyRingInRedisIsEncrypted()
    {
        var directory = Directory.CreateTempSubdirectory("bookshelf-cert-");
        try
        {
            using var rsa = RSA.Create(2048);
            var request = new CertificateRequest("CN=bookshelf-key-ring", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
            var path = Path.Combine(directory.FullName, "key-ring.pfx");
            await File.WriteAllBytesAsync(path, certificate.Export(X509ContentType.Pkcs12, "test-only"), TestContext.Current.CancellationToken);

            await using var system = await LocalSystem.StartAsync(new LocalSystemOptions
            {
                Folder = "key-ring",
                GatewayArguments = ["--Gateway:DataProtectionCertificatePath", path, "--Gateway:DataProtectionCertificatePassword", "test-only"],
            });
            using var api = new ApiClient(system.Gateways[0].BaseAddress);
            await api.SignUpAndSignInAsync();
            await api.CreatePostAsync("Signed with an encrypted key");

            var stored = await RedisCliAsync(system, "LRANGE", "bookshelf:dataprotection-keys", "0", "-1");
            Assert.Contains("<encryptedSecret", stored, StringComparison.Ordinal);
            Assert.DoesNotContain("unencrypted form", stored, StringComparison.Ordinal);
            Assert.DoesNotContain("not encrypted", File.ReadAllText(system.Gateways[0].Process.LogPath), StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<string> RedisCliAsync(LocalSystem system, params string[] command)
    {
        var info = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-p", system.RedisPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--user", "bookshelf" }.Concat(command))
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["REDISCLI_AUTH"] = system.RedisPassword;
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return output;
    }
}
