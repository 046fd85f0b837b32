using System.Reflection;
using System.Runtime.Loader;

namespace BookShelf.Cluster.Tests;

/// <summary>
/// What silos send gateways must be readable there. An error answer carries its exception, inner ones included,
/// by type name; a gateway that cannot load a type's assembly fails to read the message. Orleans 10.4 then leaves
/// that connection waiting for as many bytes as the unreadable message had before it reads the next: with a
/// stack trace of several KB and a quiet link, the answers of every grain on that silo to that gateway sat unread
/// for 90 s and more (the lab's silo cut from Redis: <c>RedisStorageException</c> from
/// Orleans.Persistence.Redis, which only silos had).
/// </summary>
public sealed class WireContractTests
{
    [Fact]
    public void EveryExceptionTypeASiloShipsIsOneTheGatewayCanLoad()
    {
        var siloFolder = Path.GetDirectoryName(LocalSystem.SiloDll)!;
        var gatewayFolder = Path.GetDirectoryName(LocalSystem.GatewayDll)!;
        Assert.True(File.Exists(LocalSystem.GatewayDll), $"build the system first: {LocalSystem.GatewayDll} is missing");
        var gatewayHas = Directory.GetFiles(gatewayFolder, "*.dll").Select(Path.GetFileName).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var siloOnly = Directory.GetFiles(siloFolder, "*.dll").Where(f => !gatewayHas.Contains(Path.GetFileName(f))).ToList();
        Assert.NotEmpty(siloOnly); // the silo has assemblies of its own (storage, the grains): this check sees them

        var context = new AssemblyLoadContext("silo-only", isCollectible: true);
        // Both programs run on ASP.NET Core's shared framework, which this test process does not load.
        var aspNetCore = Directory.GetDirectories(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", "Microsoft.AspNetCore.App"))
            .OrderBy(d => Version.TryParse(Path.GetFileName(d), out var v) ? v : new Version()).Last();
        context.Resolving += (c, name) => new[] { siloFolder, aspNetCore }.Select(folder => Path.Combine(folder, $"{name.Name}.dll")).FirstOrDefault(File.Exists) is { } path ? c.LoadFromAssemblyPath(path) : null;
        try
        {
            var unreadable = siloOnly.SelectMany(file => ExceptionTypes(context, file)).ToList();
            Assert.True(unreadable.Count == 0, $"exception types a silo can send that a gateway cannot load (reference their package from the gateway):\n{string.Join('\n', unreadable)}");
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>The public exception types of one assembly, as "type (assembly)".</summary>
    private static IEnumerable<string> ExceptionTypes(AssemblyLoadContext context, string file)
    {
        Assembly assembly;
        try
        {
            assembly = context.LoadFromAssemblyPath(file);
        }
        catch (BadImageFormatException)
        {
            return []; // not a managed assembly
        }

        Type?[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            types = ex.Types;
        }

        return types.Where(t => t is not null && typeof(Exception).IsAssignableFrom(t)).Select(t => $"{t!.FullName} ({Path.GetFileName(file)})");
    }
}
