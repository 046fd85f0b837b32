using System.Diagnostics;
using System.Globalization;

namespace BookShelf.Testing.Lab;

/// <summary>
/// Separate "hosts" on one machine: a network namespace per host, each with one interface (<c>eth0</c>) on a
/// /24 of the lab's own, joined by veth links to a bridge that lives in a namespace of its own (the switch). The
/// test process reaches every host through one more veth from its own namespace; no host has a route off the
/// lab. Faults: cut two hosts apart (blackhole routes both ways: packets vanish, as in a real partition), heal.
/// Latency goes through a <see cref="DelayProxy"/> (this kernel has no <c>tc netem</c>, so there is no packet
/// loss either; processes are paused with <see cref="ManagedProcess.Pause"/>). Everything it made is removed on
/// dispose, and a later lab removes what a crashed run left (names carry the creating process's id).
/// Needs root and iproute2 (<see cref="Unavailable"/> says why not).
/// </summary>
public sealed class NetworkLab : IAsyncDisposable
{
    private const string Prefix = "bsl";
    private readonly string _id;
    private readonly int _subnet;
    private readonly Dictionary<string, int> _hosts = new(StringComparer.Ordinal);
    private readonly HashSet<(string From, string To)> _cuts = [];
    private bool _disposed;

    private NetworkLab(string id, int subnet)
    {
        _id = id;
        _subnet = subnet;
    }

    /// <summary>The test process's own address on the lab network.</summary>
    public string TestAddress => $"10.213.{_subnet}.254";

    /// <summary>The hosts, by name.</summary>
    public IReadOnlyCollection<string> Hosts => _hosts.Keys;

    /// <summary>Why a lab cannot be made here (not root, no <c>ip</c>), or null when it can.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        try
        {
            if (Run("id", "-u").Trim() != "0")
            {
                return "making network namespaces needs root";
            }

            Run("ip", "-V");
            Run("tc", "-V");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "iproute2 (ip, tc) is not installed: apt-get install -y iproute2";
        }

        return null;
    }

    /// <summary>Makes the lab with one host per name (at most 200).</summary>
    public static NetworkLab Create(IEnumerable<string> hosts)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        RemoveLeftovers();
        // Names: bsl<pid>x<3 hex>-<n> (namespaces) and bsl<pid>x<3 hex>r (the test's link): at most 15 characters.
        var lab = new NetworkLab($"{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}x{Guid.NewGuid().ToString("N")[..3]}", FreeSubnet());
        try
        {
            lab.Build([.. hosts]);
        }
        catch
        {
            lab.Remove();
            throw;
        }

        return lab;
    }

    /// <summary>A host's address.</summary>
    public string Address(string host) => $"10.213.{_subnet}.{10 + _hosts[host]}";

    /// <summary>A host's namespace (for <c>ip netns exec</c>).</summary>
    public string Namespace(string host) => $"{Prefix}{_id}-{_hosts[host]}";

    /// <summary>The command line that runs <paramref name="fileName"/> inside <paramref name="host"/>.</summary>
    public (string FileName, IReadOnlyList<string> Arguments) Inside(string host, string fileName, IEnumerable<string> arguments) =>
        ("ip", ["netns", "exec", Namespace(host), fileName, .. arguments]);

    /// <summary>Cuts <paramref name="a"/> off from each of <paramref name="others"/>, both ways (until healed).</summary>
    public void Cut(string a, params string[] others)
    {
        foreach (var b in others)
        {
            Blackhole(a, b, add: true);
            Blackhole(b, a, add: true);
        }
    }

    /// <summary>Joins <paramref name="a"/> with each of <paramref name="others"/> again.</summary>
    public void Heal(string a, params string[] others)
    {
        foreach (var b in others)
        {
            Blackhole(a, b, add: false);
            Blackhole(b, a, add: false);
        }
    }

    /// <summary>Cuts a host off from the test process too (its clients lose it as everyone else does).</summary>
    public void CutFromTests(string host, bool cut)
    {
        var verb = cut ? "add" : "del";
        RunQuiet(!cut, "ip", "netns", "exec", Namespace(host), "ip", "route", verb, "blackhole", $"{TestAddress}/32");
    }

    /// <summary>Heals every cut.</summary>
    public void HealAll()
    {
        foreach (var (from, to) in _cuts.ToArray())
        {
            Blackhole(from, to, add: false);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Remove();
        return ValueTask.CompletedTask;
    }

    private void Build(IReadOnlyList<string> hosts)
    {
        var sw = $"{Prefix}{_id}-sw";
        Run("ip", "netns", "add", sw);
        Run("ip", "netns", "exec", sw, "ip", "link", "add", "br0", "type", "bridge");
        Run("ip", "netns", "exec", sw, "ip", "link", "set", "dev", "br0", "up");
        Run("ip", "netns", "exec", sw, "ip", "link", "set", "dev", "lo", "up");

        // The test process's way in: a veth from this namespace to the switch.
        var root = $"{Prefix}{_id}r";
        Run("ip", "link", "add", root, "type", "veth", "peer", "name", "tests", "netns", sw);
        Run("ip", "netns", "exec", sw, "ip", "link", "set", "dev", "tests", "master", "br0", "up");
        Run("ip", "addr", "add", $"{TestAddress}/24", "dev", root);
        Run("ip", "link", "set", "dev", root, "up");

        for (var i = 0; i < hosts.Count; i++)
        {
            _hosts[hosts[i]] = i;
            var ns = Namespace(hosts[i]);
            Run("ip", "netns", "add", ns);
            Run("ip", "netns", "exec", ns, "ip", "link", "set", "dev", "lo", "up");
            Run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", $"h{i}", "netns", sw);
            Run("ip", "-n", ns, "addr", "add", $"{Address(hosts[i])}/24", "dev", "eth0");
            Run("ip", "-n", ns, "link", "set", "dev", "eth0", "up");
            Run("ip", "netns", "exec", sw, "ip", "link", "set", "dev", $"h{i}", "master", "br0", "up");
        }
    }

    private void Blackhole(string from, string to, bool add)
    {
        if (add ? !_cuts.Add((from, to)) : !_cuts.Remove((from, to)))
        {
            return;
        }

        RunQuiet(!add, "ip", "netns", "exec", Namespace(from), "ip", "route", add ? "add" : "del", "blackhole", $"{Address(to)}/32");
    }

    private void Remove()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var ns in Run("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]))
        {
            if (ns.StartsWith($"{Prefix}{_id}-", StringComparison.Ordinal))
            {
                RunQuiet(true, "ip", "netns", "del", ns);
            }
        }

        // Gone with its peer in the switch namespace; deleted here in case the switch never got it.
        RunQuiet(true, "ip", "link", "del", $"{Prefix}{_id}r");
    }

    /// <summary>Removes the namespaces and links of labs whose process is gone (a run that was killed).</summary>
    private static void RemoveLeftovers()
    {
        foreach (var ns in Run("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]))
        {
            if (ns.StartsWith(Prefix, StringComparison.Ordinal) && OwnerGone(ns[Prefix.Length..]))
            {
                RunQuiet(true, "ip", "netns", "del", ns);
            }
        }

        foreach (var line in Run("ip", "-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(':', 3)[1].Trim().Split('@')[0];
            if (name.StartsWith(Prefix, StringComparison.Ordinal) && name.EndsWith('r') && OwnerGone(name[Prefix.Length..]))
            {
                RunQuiet(true, "ip", "link", "del", name);
            }
        }
    }

    /// <summary>Whether the process that made a lab (its id leads the name, up to the <c>x</c>) is gone.</summary>
    private static bool OwnerGone(string rest)
    {
        var x = rest.IndexOf('x', StringComparison.Ordinal);
        return x > 0 && int.TryParse(rest.AsSpan(0, x), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");
    }

    /// <summary>A /24 (10.213.N.0) no route of this machine uses.</summary>
    private static int FreeSubnet()
    {
        var routes = Run("ip", "-4", "route", "show", "table", "all");
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var n = Random.Shared.Next(1, 254);
            if (!routes.Contains($"10.213.{n}.", StringComparison.Ordinal))
            {
                return n;
            }
        }

        throw new InvalidOperationException("no free 10.213.N.0/24 for a network lab");
    }

    private static string Run(string fileName, params string[] arguments)
    {
        var (code, output, error) = Exec(fileName, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed ({code}): {error.Trim()}");
        }

        return output;
    }

    private static void RunQuiet(bool ignoreFailure, string fileName, params string[] arguments)
    {
        var (code, _, error) = Exec(fileName, arguments);
        if (code != 0 && !ignoreFailure)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed ({code}): {error.Trim()}");
        }
    }

    private static (int Code, string Output, string Error) Exec(string fileName, string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error);
    }
}
