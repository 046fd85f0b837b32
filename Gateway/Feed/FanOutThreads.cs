using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// The threads that write events to the sockets: one per core, running at a lower OS priority (a higher nice
/// value) than the rest of the process. Fan-out is bulk work that can always wait a moment; requests (a post
/// being created, a page) cannot, so on a busy node they are served first and the fan-out uses what is left.
/// </summary>
public sealed class FanOutThreads : IDisposable
{
    private readonly BlockingCollection<WorkItem> _queue = [];
    private readonly Thread[] _threads;

    /// <summary>Starts the threads; <paramref name="nice"/> is added to each one's nice value (0: same priority).</summary>
    public FanOutThreads(int nice)
    {
        Nice = nice;
        _threads = [.. Enumerable.Range(0, Environment.ProcessorCount).Select(i => new Thread(Run) { IsBackground = true, Name = $"fan-out {i}" })];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>The nice value the threads asked for (Linux; elsewhere the threads run at normal priority).</summary>
    public int Nice { get; }

    /// <summary>Runs <paramref name="work"/> for each of <paramref name="parts"/> parts on the fan-out threads; completes when all have.</summary>
    public Task RunAsync(int parts, Action<int> work)
    {
        var done = new CountdownCompletion(parts);
        for (var part = 0; part < parts; part++)
        {
            _queue.Add(new WorkItem(work, part, done));
        }

        return done.Task;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(5));
        }

        _queue.Dispose();
    }

    private void Run()
    {
        if (Nice != 0 && OperatingSystem.IsLinux())
        {
            // Per-thread on Linux: setpriority on the thread id. Lowering priority needs no privilege.
            _ = SetPriority(0, GetThreadId(), Nice);
        }

        foreach (var item in _queue.GetConsumingEnumerable())
        {
            try
            {
                item.Work(item.Part);
                item.Done.Signal(null);
            }
            catch (Exception ex)
            {
                item.Done.Signal(ex);
            }
        }
    }

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    private readonly record struct WorkItem(Action<int> Work, int Part, CountdownCompletion Done);

    private sealed class CountdownCompletion(int count)
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _remaining = count;
        private Exception? _error;

        public Task Task => _completion.Task;

        public void Signal(Exception? error)
        {
            if (error is not null)
            {
                Interlocked.CompareExchange(ref _error, error, null);
            }

            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                if (_error is { } failed)
                {
                    _completion.TrySetException(failed);
                }
                else
                {
                    _completion.TrySetResult();
                }
            }
        }
    }
}
