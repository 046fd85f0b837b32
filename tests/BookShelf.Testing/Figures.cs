namespace BookShelf.Testing;

/// <summary>
/// Figures a test measured (failover times, posts kept), appended to <c>.data/figures.log</c> with the time, where
/// a passing run leaves them for docs/benchmarks.md and docs/deployment.md (a passing test's output is not shown).
/// </summary>
public static class Figures
{
    private static readonly Lock Gate = new();

    /// <summary>Records one line under <paramref name="topic"/>.</summary>
    public static void Record(string topic, string line)
    {
        var text = $"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z [{topic}] {line}";
        Console.WriteLine(text);
        var path = Path.Combine(LocalSystem.RepositoryRoot, ".data", "figures.log");
        lock (Gate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.AppendAllText(path, text + Environment.NewLine);
        }
    }
}
