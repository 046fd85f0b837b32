using BookShelf.Testing.History;

namespace BookShelf.Cluster.Tests;

/// <summary>
/// The history checker, bounded: 3 silos and 2 gateways on Redis, writers recording every request, resuming
/// clients on both gateways, and one round of faults (a burst, a silo SIGKILL, a silo SIGSTOP/SIGCONT, a gateway
/// SIGKILL, a Redis stop) while it runs. <c>./bookshelf chaos --minutes N</c> runs the same for longer.
/// </summary>
public sealed class HistoryTests
{
    [Fact]
    public async Task EveryAcknowledgedPostReachesTheListAndEveryClientExactlyOnceThroughFaults()
    {
        var output = TestContext.Current.TestOutputHelper;
        var check = await ChaosRun.RunAsync(new ChaosOptions { Folder = "history", Log = line => output?.WriteLine(line) });

        output?.WriteLine(check.Figures);
        Console.WriteLine("[figures] history check: " + check.Figures.ReplaceLineEndings(" | "));
        Assert.True(check.Violations.Count == 0, "history violations:\n" + string.Join('\n', check.Violations) + "\n" + check.Figures);
    }
}
