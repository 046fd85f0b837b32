using BookShelf.ServiceDefaults;

namespace BookShelf.Gateway.Tests;

/// <summary>
/// The Redis settings silos and gateways share: a bad one stops the process with a message naming it. (That a
/// private authority is trusted is shown end to end by <c>RedisTlsTests</c>.)
/// </summary>
public sealed class RedisConnectionTests
{
    private static readonly TimeSpan Unreachable = TimeSpan.FromSeconds(5);

    [Fact]
    public void AnAuthorityFileThatIsNotThereIsRefused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => RedisConnection.Options("127.0.0.1:6390,ssl=true", Unreachable, "Gateway", "/nonexistent/ca.crt"));
        Assert.Contains("Gateway:RedisCaCertificatePath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAuthorityFileThatIsNotACertificateIsRefused()
    {
        var folder = Directory.CreateTempSubdirectory("bookshelf-ca-");
        try
        {
            var path = Path.Combine(folder.FullName, "ca.crt");
            File.WriteAllText(path, "not a certificate");
            var error = Assert.Throws<InvalidOperationException>(() => RedisConnection.Options("127.0.0.1:6390,ssl=true", Unreachable, "Gateway", path));
            Assert.Contains("Gateway:RedisCaCertificatePath", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void AnAuthorityWithoutTlsIsRefused()
    {
        var folder = Directory.CreateTempSubdirectory("bookshelf-ca-");
        try
        {
            var tls = TestCertificates.Create(folder.FullName, ["127.0.0.1"]);
            var error = Assert.Throws<InvalidOperationException>(() => RedisConnection.Options("127.0.0.1:6390", Unreachable, "Silo", tls.CaPath));
            Assert.Contains("ssl=true", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
