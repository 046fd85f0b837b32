using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace BookShelf.Testing.History;

/// <summary>A post as the API lists it.</summary>
public sealed record ListedPost(long Id, long Seq, string Title);

/// <summary>
/// Checks a recorded history against what the system ended with: the post list (<c>GET /api/posts</c>, every
/// page) and every WebSocket client's deliveries. The rules, for any fault and any rate:
/// every acknowledged post is listed exactly once; no post is listed twice; no operation made two posts
/// (retries with a key never duplicate); an operation whose attempts all failed made at most one post, and one
/// refused every time (4xx, or a 503 saying nothing was changed) made none;
/// every client received every listed post exactly once, in seq order, with no gap, repeat or reset.
/// </summary>
public sealed class HistoryCheck
{
    private readonly List<string> _violations = [];
    private readonly StringBuilder _figures = new();

    private HistoryCheck()
    {
    }

    /// <summary>Every broken rule, each with its evidence.</summary>
    public IReadOnlyList<string> Violations => _violations;

    /// <summary>The history's figures, one line each.</summary>
    public string Figures => _figures.ToString();

    /// <summary>Reads every page of the post list from <paramref name="gateway"/>.</summary>
    public static async Task<IReadOnlyList<ListedPost>> ListAllAsync(GatewayNode gateway)
    {
        using var http = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var posts = new List<ListedPost>();
        long? before = null;
        do
        {
            var page = await http.GetFromJsonAsync<JsonObject>(before is { } b ? $"/api/posts?limit=100&before={b}" : "/api/posts?limit=100");
            foreach (var item in page!["items"]!.AsArray())
            {
                posts.Add(new ListedPost(item!["id"]!.GetValue<long>(), item["seq"]!.GetValue<long>(), item["title"]!.GetValue<string>()));
            }

            before = page["next_before"]?.GetValue<long?>();
        }
        while (before is not null);

        posts.Reverse();
        return posts;
    }

    /// <summary>Checks the history; <paramref name="faults"/> are the fault lines to report with it.</summary>
    public static HistoryCheck Run(IReadOnlyList<WriteOperation> operations, IReadOnlyList<ListedPost> listed, IReadOnlyList<ResilientFeedClient> clients, IEnumerable<string> faults)
    {
        var check = new HistoryCheck();
        check.CheckList(operations, listed);
        check.CheckClients(listed, clients);
        check.Report(operations, listed, clients, faults);
        return check;
    }

    private void CheckList(IReadOnlyList<WriteOperation> operations, IReadOnlyList<ListedPost> listed)
    {
        foreach (var repeated in listed.GroupBy(p => p.Id).Where(g => g.Count() > 1))
        {
            Violate($"post {repeated.Key} is listed {repeated.Count()} times (seqs {string.Join(", ", repeated.Select(p => p.Seq))})");
        }

        var byTitle = listed.GroupBy(p => p.Title, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var operation in operations)
        {
            var made = byTitle.TryGetValue(operation.Title, out var posts) ? posts : [];
            var distinct = made.Select(p => p.Id).Distinct().Count();
            if (distinct > 1)
            {
                Violate($"operation {operation.Number} ({Describe(operation)}) made {distinct} posts: {string.Join(", ", made.Select(p => p.Id))}");
            }

            // Refusals say nothing changed: an operation refused every time made no post.
            if (made.Count > 0 && operation.Attempts.All(a => a.Outcome is AttemptOutcome.Refused || (a.Outcome is AttemptOutcome.OtherStatus && a.Status is >= 400 and < 500)))
            {
                Violate($"operation {operation.Number} ({Describe(operation)}) was refused every time, yet made post {made[0].Id}");
            }

            if (operation.AcknowledgedId is { } id && !made.Any(p => p.Id == id))
            {
                Violate($"operation {operation.Number} was acknowledged as post {id}, which is not listed");
            }
        }
    }

    private void CheckClients(IReadOnlyList<ListedPost> listed, IReadOnlyList<ResilientFeedClient> clients)
    {
        var expected = listed.OrderBy(p => p.Seq).Select(p => p.Id).ToList();
        for (var i = 0; i < clients.Count; i++)
        {
            var client = clients[i];
            foreach (var violation in client.Violations)
            {
                Violate($"client {i}: {violation}");
            }

            var ids = client.Ids;
            if (!ids.SequenceEqual(expected))
            {
                var missing = expected.Except(ids).Take(5).ToList();
                var repeats = ids.GroupBy(x => x).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToList();
                Violate($"client {i} received {ids.Count} posts, expected {expected.Count} in seq order; missing e.g. [{string.Join(", ", missing)}], repeated e.g. [{string.Join(", ", repeats)}]");
            }
        }
    }

    private void Report(IReadOnlyList<WriteOperation> operations, IReadOnlyList<ListedPost> listed, IReadOnlyList<ResilientFeedClient> clients, IEnumerable<string> faults)
    {
        var listedTitles = listed.Select(p => p.Title).ToHashSet(StringComparer.Ordinal);
        var attempts = operations.SelectMany(o => o.Attempts).ToList();
        var acknowledged = operations.Count(o => o.AcknowledgedId is not null);
        var failed = operations.Where(o => o.AcknowledgedId is null).ToList();
        var failedButCreated = failed.Count(o => listedTitles.Contains(o.Title));
        var retried = operations.Count(o => o.Attempts.Count > 1);
        var retriedAcknowledged = operations.Count(o => o.Attempts.Count > 1 && o.AcknowledgedId is not null);
        var firstTryFailures = attempts.Where(a => a.Outcome != AttemptOutcome.Created).GroupBy(a => a.Outcome).Select(g => $"{g.Key} {g.Count()}");
        var span = attempts.Count == 0 ? TimeSpan.Zero : attempts.Max(a => a.SentAt + a.Elapsed) - attempts.Min(a => a.SentAt);
        var deliveries = clients.Sum(c => c.Ids.Count);
        var repeatedDeliveries = clients.Sum(c => c.Ids.Count - c.Ids.Distinct().Count());
        var listedTwice = listed.GroupBy(p => p.Id).Count(g => g.Count() > 1);
        var line = (string text) => _figures.AppendLine(text);
        line(string.Create(CultureInfo.InvariantCulture, $"operations {operations.Count} over {span.TotalSeconds:F1} s ({operations.Count / Math.Max(span.TotalSeconds, 0.001):F0}/s), attempts {attempts.Count}; acknowledged {acknowledged}; failed for the client {failed.Count}, of which created anyway {failedButCreated}"));
        line($"attempts that did not get 201: {(attempts.Count == acknowledged ? "none" : string.Join(", ", firstTryFailures))}; operations retried {retried}, acknowledged after a retry {retriedAcknowledged}");
        line($"posts listed {listed.Count} (distinct ids {listed.Select(p => p.Id).Distinct().Count()}, listed more than once {listedTwice}); deliveries {deliveries} to {clients.Count} clients, of which repeats of a post id {repeatedDeliveries}; reconnects {clients.Sum(c => c.Reconnects)}");
        foreach (var fault in faults)
        {
            line("fault: " + fault);
        }

        line(_violations.Count == 0 ? "violations: none" : $"violations: {_violations.Count}");
    }

    private void Violate(string text)
    {
        if (_violations.Count < 50)
        {
            _violations.Add(text);
        }
    }

    private static string Describe(WriteOperation operation) =>
        string.Join(" then ", operation.Attempts.Select(a => a.Outcome == AttemptOutcome.Created ? "201" : a.Status > 0 ? a.Status.ToString(CultureInfo.InvariantCulture) : a.Outcome.ToString()));
}
