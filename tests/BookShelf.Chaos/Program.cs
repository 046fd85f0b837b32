using System.Globalization;
using BookShelf.Testing.History;

// ./bookshelf chaos [--minutes N] [--rounds N] [--silos N] [--gateways N] [--clients-per-gateway N]
//                   [--writers N] [--rate N | --closed-loop] [--no-keys] [--scenario burst|pause|redis|kill --operations N]
// Runs the history checker against real processes and prints its figures; exits 1 on any violation.
var options = new ChaosOptions { Log = line => Console.WriteLine($"[chaos {DateTime.UtcNow:HH:mm:ss}] {line}") };
var writers = options.Writers;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
    switch (args[i])
    {
        case "--minutes": options = options with { Duration = TimeSpan.FromMinutes(double.Parse(Next(), CultureInfo.InvariantCulture)), Rounds = 1 }; break;
        case "--rounds": options = options with { Rounds = Int() }; break;
        case "--silos": options = options with { Silos = Int() }; break;
        case "--gateways": options = options with { Gateways = Int() }; break;
        case "--writers": writers = writers with { Writers = Int() }; break;
        case "--rate": writers = writers with { PostsPerSecond = double.Parse(Next(), CultureInfo.InvariantCulture) }; break;
        case "--no-keys": writers = writers with { SendKeys = false }; break;
        case "--closed-loop": writers = writers with { PostsPerSecond = 0 }; break;
        case "--clients-per-gateway": options = options with { ClientsPerGateway = Int() }; break;
        case "--scenario": options = options with { Scenario = Next() }; break;
        case "--operations": options = options with { Operations = Int() }; break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}");
            return 2;
    }
}

var check = await ChaosRun.RunAsync(options with { Writers = writers });
Console.WriteLine(check.Figures);
foreach (var violation in check.Violations)
{
    Console.WriteLine("violation: " + violation);
}

return check.Violations.Count == 0 ? 0 : 1;
