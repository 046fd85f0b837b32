using System.Diagnostics;
using System.Text.Json;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Worker;

namespace BookShelf.Bench;

/// <summary>
/// The load tool's worker processes (this program started with <c>worker</c>), each holding part of the
/// connections from its own local addresses, driven over standard input and output.
/// </summary>
public sealed class WorkerPool : IAsyncDisposable
{
    /// <summary>Connections per worker at most: a process may open about 20,000 files here.</summary>
    public const int MaxConnectionsPerWorker = 15_000;

    private readonly List<WorkerProcess> _workers;

    private WorkerPool(List<WorkerProcess> workers) => _workers = workers;

    /// <summary>Worker process ids (their CPU is the load tool's cost).</summary>
    public IEnumerable<int> Pids => _workers.Select(w => w.Pid);

    /// <summary>Starts enough workers for <paramref name="connections"/>.</summary>
    public static WorkerPool Start(int connections)
    {
        var count = Math.Max(1, (connections + MaxConnectionsPerWorker - 1) / MaxConnectionsPerWorker);
        return new WorkerPool([.. Enumerable.Range(0, count).Select(WorkerProcess.Start)]);
    }

    /// <summary>
    /// Opens <paramref name="connections"/> connections, connection i to gateway i mod n, split over the workers;
    /// <paramref name="progress"/> gets the number open so far.
    /// </summary>
    public async Task<WorkerReport[]> ConnectAsync(IReadOnlyList<Uri> gateways, int connections, WireProtocol protocol, Action<int> progress)
    {
        var tasks = _workers.Select((worker, w) =>
        {
            var share = (connections / _workers.Count) + (w < connections % _workers.Count ? 1 : 0);
            var targets = gateways.Select((uri, g) => new ConnectTarget(uri, (share / gateways.Count) + (g < share % gateways.Count ? 1 : 0), protocol)).Where(t => t.Count > 0).ToList();
            // Each worker connects from its own 32 loopback addresses (ephemeral ports are per source address).
            var sources = Enumerable.Range(1, 32).Select(i => $"127.{20 + w}.0.{i}").ToList();
            return worker.AskAsync(new WorkerCommand { Op = "connect", Targets = targets, Sources = sources, Concurrency = 64 }, p =>
            {
                worker.LastOpen = p.Open;
                progress(_workers.Sum(x => x.LastOpen));
            });
        });
        return await Task.WhenAll(tasks);
    }

    /// <summary>Sends <paramref name="command"/> to every worker and gathers the answers.</summary>
    public Task<WorkerReport[]> AskAllAsync(WorkerCommand command) => Task.WhenAll(_workers.Select(w => w.AskAsync(command, null)));

    /// <summary>CPU seconds used by the workers so far.</summary>
    public double CpuSeconds() => ProcessStats.CpuSeconds(Pids);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }
    }

    private sealed class WorkerProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly SemaphoreSlim _gate = new(1, 1);

        private WorkerProcess(Process process) => _process = process;

        public int Pid => _process.Id;

        public int LastOpen { get; set; }

        public static WorkerProcess Start(int index)
        {
            var self = Environment.ProcessPath!;
            var info = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                info.ArgumentList.Add(typeof(WorkerPool).Assembly.Location);
            }

            info.ArgumentList.Add("worker");
            // Receive completions run on the socket engine's threads: a worker's work per message is small and
            // never blocks, and the hop to the thread pool would cost more than the work.
            info.Environment["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1";
            return new WorkerProcess(Process.Start(info) ?? throw new InvalidOperationException($"could not start worker {index}"));
        }

        public async Task<WorkerReport> AskAsync(WorkerCommand command, Action<WorkerReport>? onProgress)
        {
            await _gate.WaitAsync();
            try
            {
                await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command, Json.Options));
                await _process.StandardInput.FlushAsync();
                while (true)
                {
                    var line = await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException($"worker {Pid} exited");
                    var report = JsonSerializer.Deserialize<WorkerReport>(line, Json.Options)!;
                    if (report.Ev == "progress")
                    {
                        onProgress?.Invoke(report);
                        continue;
                    }

                    return report;
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new WorkerCommand { Op = "exit" }, Json.Options));
                    await _process.StandardInput.FlushAsync();
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await _process.WaitForExitAsync(timeout.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                _process.Kill();
            }

            _process.Dispose();
        }
    }
}
