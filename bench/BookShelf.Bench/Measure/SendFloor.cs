using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace BookShelf.Bench.Measure;

/// <summary>
/// The physical floor of fan-out here: <c>bench/send-floor.c</c> (one <c>send()</c> of a small message per
/// loopback connection), compiled with the system C compiler and run with the given connections.
/// </summary>
public static partial class SendFloor
{
    /// <summary>Send-side CPU µs per message, or null (with the reason) when there is no C compiler.</summary>
    public static async Task<(double? MicrosPerMessage, string Detail)> MeasureAsync(int connections, int rounds, int port, CancellationToken cancellationToken)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "send-floor.c");
        var binary = Path.Combine(Path.GetTempPath(), $"bookshelf-send-floor-{Environment.ProcessId}");
        try
        {
            var (ok, output) = await RunAsync("cc", ["-O2", "-o", binary, source], cancellationToken);
            if (!ok)
            {
                return (null, $"cc failed: {output}");
            }

            (ok, output) = await RunAsync(binary, [connections.ToString(CultureInfo.InvariantCulture), rounds.ToString(CultureInfo.InvariantCulture), port.ToString(CultureInfo.InvariantCulture)], cancellationToken);
            var match = SendSide().Match(output);
            return ok && match.Success
                ? (double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), output.Trim())
                : (null, $"send-floor failed: {output}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (null, $"no C compiler: {ex.Message}");
        }
        finally
        {
            File.Delete(binary);
        }
    }

    private static async Task<(bool Ok, string Output)> RunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode == 0, await output + await error);
    }

    [GeneratedRegex(@"send-side us/msg=([0-9.]+)")]
    private static partial Regex SendSide();
}
