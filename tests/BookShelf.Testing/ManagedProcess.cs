using System.Diagnostics;
using System.Text;

namespace BookShelf.Testing;

/// <summary>A child process this test run started, with its output kept in a log file and the last lines in memory.</summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();

    private ManagedProcess(string name, Process process, string logPath)
    {
        Name = name;
        _process = process;
        LogPath = logPath;
        _log = new StreamWriter(logPath, append: true, Encoding.UTF8) { AutoFlush = true };
    }

    /// <summary>A name for messages.</summary>
    public string Name { get; }

    /// <summary>Where the output goes.</summary>
    public string LogPath { get; }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether it still runs.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/> (in <paramref name="workingDirectory"/>, or this process's); output goes to <paramref name="logPath"/>.</summary>
    public static ManagedProcess Start(string name, string fileName, IEnumerable<string> arguments, string logPath, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var managed = new ManagedProcess(name, process, logPath);
        process.OutputDataReceived += (_, e) => managed.Record(e.Data);
        process.ErrorDataReceived += (_, e) => managed.Record(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>The last lines of output, for failure messages.</summary>
    public string Tail()
    {
        lock (_tail)
        {
            return string.Join('\n', _tail);
        }
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM and wait for a graceful exit; SIGKILL after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = Signal(_process.Id, 15);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
        }
    }

    /// <summary>SIGSTOP: the process stops running (as a host that hangs) until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        if (!_process.HasExited)
        {
            _ = Signal(_process.Id, 19);
        }
    }

    /// <summary>SIGCONT: a paused process runs again.</summary>
    public void Resume()
    {
        if (!_process.HasExited)
        {
            _ = Signal(_process.Id, 18);
        }
    }

    /// <summary>Waits until the process exits by itself; false when it still runs after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(timer.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Resume();
        await KillAsync();
        _process.Dispose();
        await _log.DisposeAsync();
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_tail)
        {
            _tail.Enqueue(line);
            while (_tail.Count > 40)
            {
                _tail.Dequeue();
            }

            _log.WriteLine(line);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);
}
