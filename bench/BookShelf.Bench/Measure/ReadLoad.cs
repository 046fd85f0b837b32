using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace BookShelf.Bench.Measure;

/// <summary>What a closed-loop read load measured: requests answered, those that failed, the rate and p50 / p99 in ms.</summary>
public readonly record struct ReadRate(long Count, long Failed, double PerSecond, double P50, double P99);

/// <summary>
/// Closed-loop GET load on one URL. <see cref="Wrk"/> (Debian's <c>wrk</c>, written in C) is preferred: it costs the
/// shared two cores little, so what is measured is the server. Without it, <see cref="Client"/> (.NET's HttpClient)
/// does the same, at several times the load tool's CPU per request, which it takes from the server.
/// </summary>
public abstract partial class ReadLoad
{
    /// <summary>What the tables call this load tool.</summary>
    public abstract string Name { get; }

    /// <summary>Runs <paramref name="connections"/> requests in flight on <paramref name="url"/> for <paramref name="length"/>.</summary>
    public abstract Task<ReadRate> RunAsync(Uri url, int connections, TimeSpan length, CancellationToken cancellationToken);

    /// <summary><c>wrk</c> when it is on the PATH, else the built-in client.</summary>
    public static ReadLoad Create() => Wrk.Find() is { } path ? new Wrk(path) : new Client();

    /// <summary>Runs <c>wrk -t2 -cN -dS --latency</c> and reads its summary.</summary>
    public sealed partial class Wrk(string path) : ReadLoad
    {
        /// <inheritdoc />
        public override string Name => "wrk -t2";

        /// <summary>The wrk executable on the PATH, or null.</summary>
        public static string? Find() =>
            (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, "wrk")).FirstOrDefault(File.Exists);

        /// <inheritdoc />
        public override async Task<ReadRate> RunAsync(Uri url, int connections, TimeSpan length, CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-t2", $"-c{connections}", $"-d{(int)Math.Ceiling(length.TotalSeconds)}s", "--latency", url.ToString() })
            {
                start.ArgumentList.Add(arg);
            }

            using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
            var output = wrk.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = wrk.StandardError.ReadToEndAsync(cancellationToken);
            await wrk.WaitForExitAsync(cancellationToken);
            var text = await output;
            return wrk.ExitCode == 0 ? Parse(text) : throw new InvalidOperationException($"wrk exited with {wrk.ExitCode}: {text}{await errors}");
        }

        /// <summary>Reads wrk's <c>--latency</c> summary (requests, rate, 50 % and 99 %, non-2xx and socket errors).</summary>
        public static ReadRate Parse(string text)
        {
            ArgumentNullException.ThrowIfNull(text);
            var requests = Number(RequestsLine().Match(text), "requests");
            var perSecond = Number(RateLine().Match(text), "Requests/sec");
            var failed = NonSuccessLine().Match(text) is { Success: true } bad ? long.Parse(bad.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            foreach (Match socket in SocketErrors().Matches(text))
            {
                failed += long.Parse(socket.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            return new ReadRate((long)requests - failed, failed, perSecond * (requests - failed) / Math.Max(1, requests), Percentile(text, "50%"), Percentile(text, "99%"));
        }

        private static double Percentile(string text, string which)
        {
            var line = Regex.Match(text, $@"^\s*{Regex.Escape(which)}\s+([0-9.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
            var value = Number(line, which);
            return line.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
        }

        private static double Number(Match match, string what) =>
            match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : throw new FormatException($"wrk's output has no '{what}'.");

        [GeneratedRegex(@"^\s*(\d+) requests in ", RegexOptions.Multiline)]
        private static partial Regex RequestsLine();

        [GeneratedRegex(@"^Requests/sec:\s+([0-9.]+)", RegexOptions.Multiline)]
        private static partial Regex RateLine();

        [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
        private static partial Regex NonSuccessLine();

        [GeneratedRegex(@"(?:connect|read|write|timeout) (\d+)")]
        private static partial Regex SocketErrors();
    }

    /// <summary>.NET's HttpClient, one loop per request in flight.</summary>
    public sealed class Client : ReadLoad
    {
        /// <inheritdoc />
        public override string Name => "the bench's HttpClient (wrk not installed)";

        /// <inheritdoc />
        public override async Task<ReadRate> RunAsync(Uri url, int connections, TimeSpan length, CancellationToken cancellationToken)
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { Timeout = TimeSpan.FromSeconds(30) };
            var histogram = new LatencyHistogram();
            long failed = 0;
            var clock = Stopwatch.StartNew();
            async Task LoopAsync()
            {
                var mine = new LatencyHistogram();
                while (clock.Elapsed < length)
                {
                    var sent = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await http.GetAsync(url, cancellationToken);
                        await response.Content.CopyToAsync(Stream.Null, cancellationToken);
                        if (!response.IsSuccessStatusCode)
                        {
                            Interlocked.Increment(ref failed);
                            continue;
                        }
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref failed);
                        continue;
                    }

                    mine.Record((long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds);
                }

                lock (histogram)
                {
                    histogram.Merge(mine);
                }
            }

            await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(LoopAsync, cancellationToken)));
            return new ReadRate(histogram.Count, failed, histogram.Count / clock.Elapsed.TotalSeconds, histogram.Percentile(50) / 1000.0, histogram.Percentile(99) / 1000.0);
        }
    }
}
