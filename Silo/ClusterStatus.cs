using System.Globalization;
using BookShelf.ServiceDefaults;
using Orleans.Configuration;
using Orleans.Runtime;
using StackExchange.Redis;

namespace BookShelf.Silo;

/// <summary>
/// <c>BookShelf.Silo status</c>: joins the cluster as an Orleans client (through the same Redis membership as the
/// silos) and prints what Orleans itself knows, from its management grain: every silo with its status, address,
/// start time and activations, and the grain types with the most activations. Exit code 0 when at least one silo
/// is active, 1 when none is, 2 when the cluster cannot be reached.
/// </summary>
public static class ClusterStatus
{
    /// <summary>Prints the cluster's state; <paramref name="args"/> are configuration (e.g. <c>--Orleans:ClusterId x</c>).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.Logging.ClearProviders();
        var settings = builder.Configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
        var redis = RedisConnection.Options(settings, SiloOptions.Section);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = builder.Configuration["Orleans:ClusterId"] ?? "bookshelf";
                o.ServiceId = builder.Configuration["Orleans:ServiceId"] ?? "bookshelf";
            });
            client.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
        });
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await host.StartAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or OrleansException or RedisException or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"The cluster could not be reached: {ex.Message}");
            return 2;
        }

        var management = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var members = await management.GetDetailedHosts(onlyActive: false);
        var active = members.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToArray();
        var byAddress = new Dictionary<SiloAddress, SiloRuntimeStatistics>();
        foreach (var address in active)
        {
            try
            {
                // One at a time: a silo still listed as active but already gone must not hide the others' figures.
                byAddress[address] = (await management.GetRuntimeStatistics([address]).WaitAsync(TimeSpan.FromSeconds(5)))[0];
            }
            catch (Exception ex) when (ex is OrleansException or TimeoutException or SiloUnavailableException or OperationCanceledException)
            {
                await Console.Error.WriteLineAsync($"{address}: no statistics ({ex.GetType().Name}): it may have just died");
            }
        }

        Console.WriteLine($"Cluster members (from Orleans' management grain): {active.Length} active of {members.Length}");
        Console.WriteLine($"{"SILO",-22} {"STATUS",-12} {"ADDRESS",-24} {"STARTED (UTC)",-20} {"ACTIVATIONS",11} {"CLIENTS",8} {"MEMORY",10}");
        foreach (var member in members.OrderBy(m => m.Status != SiloStatus.Active).ThenBy(m => m.SiloName, StringComparer.Ordinal))
        {
            byAddress.TryGetValue(member.SiloAddress, out var s);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{member.SiloName,-22} {member.Status,-12} {member.SiloAddress.Endpoint,-24} {member.StartTime,-20:yyyy-MM-dd HH:mm:ss} {(s is null ? "-" : s.ActivationCount.ToString(CultureInfo.InvariantCulture)),11} {(s is null ? "-" : s.ClientCount.ToString(CultureInfo.InvariantCulture)),8} {(s is null ? "-" : $"{s.EnvironmentStatistics.FilteredMemoryUsageBytes / 1048576} MB"),10}"));
        }

        if (byAddress.Count > 0)
        {
            var grains = await management.GetSimpleGrainStatistics([.. byAddress.Keys]);
            Console.WriteLine();
            Console.WriteLine("Activations by grain type (largest first):");
            foreach (var type in grains.GroupBy(g => g.GrainType).Select(g => (Type: g.Key, Count: g.Sum(x => x.ActivationCount))).OrderByDescending(t => t.Count).Take(8))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {type.Count,8}  {ShortName(type.Type)}"));
            }
        }

        await host.StopAsync(CancellationToken.None);
        return active.Length > 0 ? 0 : 1;
    }

    private static string ShortName(string grainType) =>
        grainType.Split(',')[0] is var name && name.LastIndexOf('.') is var dot and >= 0 ? name[(dot + 1)..] : grainType;
}
