using System.Globalization;

namespace BookShelf.Bench.Measure;

/// <summary>CPU time and resident memory of processes, read from <c>/proc</c> (Linux).</summary>
public static class ProcessStats
{
    private static readonly double TicksPerSecond = ClockTicks();

    /// <summary>User + system CPU seconds <paramref name="pid"/> has used (0 if it is gone).</summary>
    public static double CpuSeconds(int pid) =>
        StatFields(pid) is { } fields
            ? (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond
            : 0;

    /// <summary>
    /// The fields of <c>/proc/&lt;pid&gt;/stat</c> after the command name (which is in parentheses and may hold spaces
    /// and parentheses): [0] is the state, [1] the parent's pid, [11] and [12] user and system ticks, [19] the start
    /// time (fields 3, 4, 14, 15 and 22 of proc(5)). Null if the process is gone.
    /// </summary>
    public static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
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
