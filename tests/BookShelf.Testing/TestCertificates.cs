using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BookShelf.Testing;

/// <summary>
/// A private certificate authority made for one run, and a server certificate it signed for the addresses given,
/// written as PEM files (what redis-server reads): <c>ca.crt</c>, <c>server.crt</c>, <c>server.key</c>.
/// </summary>
public sealed class TestCertificates
{
    private TestCertificates(string directory)
    {
        CaPath = Path.Combine(directory, "ca.crt");
        CertificatePath = Path.Combine(directory, "server.crt");
        KeyPath = Path.Combine(directory, "server.key");
    }

    /// <summary>The authority's certificate (what clients are told to trust).</summary>
    public string CaPath { get; }

    /// <summary>The server's certificate.</summary>
    public string CertificatePath { get; }

    /// <summary>The server's private key.</summary>
    public string KeyPath { get; }

    /// <summary>Makes the authority and a server certificate valid for <paramref name="addresses"/> (IPs or names), for a day.</summary>
    public static TestCertificates Create(string directory, IEnumerable<string> addresses)
    {
        Directory.CreateDirectory(directory);
        var files = new TestCertificates(directory);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=BookShelf test authority", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=BookShelf test Redis", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var address in addresses)
        {
            if (IPAddress.TryParse(address, out var ip))
            {
                names.AddIpAddress(ip);
            }
            else
            {
                names.AddDnsName(address);
            }
        }

        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        // Redis uses the one certificate as a server and, towards its primary and the other Sentinels, as a client.
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(8));

        File.WriteAllText(files.CaPath, ca.ExportCertificatePem());
        File.WriteAllText(files.CertificatePath, server.ExportCertificatePem());
        File.WriteAllText(files.KeyPath, serverKey.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(files.KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return files;
    }
}
