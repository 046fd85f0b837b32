using System.Globalization;

namespace BookShelf.Bench.Measure;

/// <summary>CPU time and resident memory of processes, read from <c>/proc</c> (Linux).</summary>
public static class ProcessStats
{
    private static readonly double TicksPerSecond = ClockTicks();

    /// <summary>User + system CPU seconds <paramref name="pid"/> has used (0 if it is gone).</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name (which is in parentheses and may hold spaces).
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var user = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var system = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (user + system) / TicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Resident set size of <paramref name="pid"/> in bytes (0 if it is gone).</summary>
    public static long RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return 0;
    }

    /// <summary>Sum of <see cref="CpuSeconds"/> over <paramref name="pids"/>.</summary>
    public static double CpuSeconds(IEnumerable<int> pids) => pids.Sum(CpuSeconds);

    /// <summary>Sum of <see cref="RssBytes"/> over <paramref name="pids"/>.</summary>
    public static long RssBytes(IEnumerable<int> pids) => pids.Sum(RssBytes);

    private static double ClockTicks()
    {
        // USER_HZ is 100 on every Linux this runs on; getconf confirms it when present.
        try
        {
            using var getconf = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true });
            var text = getconf!.StandardOutput.ReadToEnd().Trim();
            getconf.WaitForExit();
            return double.Parse(text, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or FormatException or InvalidOperationException)
        {
            return 100;
        }
    }
}
