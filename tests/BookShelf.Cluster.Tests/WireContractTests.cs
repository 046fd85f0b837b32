using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;

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
        Assert.True(File.Exists(LocalSystem.GatewayDll), $"build the system first: {LocalSystem.GatewayDll} is missing");

        // What the gateway loads is what its deps.json names (its bin folder may hold files left from earlier builds).
        var gatewayHas = RuntimeAssemblies(Path.ChangeExtension(LocalSystem.GatewayDll, ".deps.json"));
        var unshared = Directory.GetFiles(siloFolder, "*.dll")
            .Where(file => !gatewayHas.TryGetValue(Path.GetFileName(file), out var version) || version != AssemblyName.GetAssemblyName(file).Version)
            .ToList();

        var context = new AssemblyLoadContext("silo-only", isCollectible: true);
        var aspNetCore = SharedFramework("Microsoft.AspNetCore.App");
        context.Resolving += (c, name) => new[] { siloFolder, aspNetCore }.Select(folder => Path.Combine(folder, $"{name.Name}.dll")).FirstOrDefault(File.Exists) is { } path ? c.LoadFromAssemblyPath(path) : null;
        try
        {
            var unreadable = unshared.SelectMany(file => ExceptionTypes(context, file)).ToList();
            Assert.True(unreadable.Count == 0, $"exception types a silo can send that a gateway cannot load, or loads in another version (reference their package from the gateway):\n{string.Join('\n', unreadable)}");
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>The runtime assemblies a deps.json lists, by file name, with their assembly versions.</summary>
    private static Dictionary<string, Version?> RuntimeAssemblies(string depsJson)
    {
        using var deps = JsonDocument.Parse(File.ReadAllText(depsJson));
        var result = new Dictionary<string, Version?>(StringComparer.OrdinalIgnoreCase);
        // The target the host reads: a publish for a platform also lists an empty platform-neutral one.
        var target = deps.RootElement.GetProperty("runtimeTarget").GetProperty("name").GetString()!;
        foreach (var library in deps.RootElement.GetProperty("targets").GetProperty(target).EnumerateObject())
        {
            if (!library.Value.TryGetProperty("runtime", out var runtime))
            {
                continue;
            }

            foreach (var file in runtime.EnumerateObject())
            {
                var version = file.Value.TryGetProperty("assemblyVersion", out var v) ? Version.Parse(v.GetString()!) : null;
                // A project of the solution lists no version: it is built with the one every project has.
                result[Path.GetFileName(file.Name)] = version ?? AssemblyName.GetAssemblyName(Path.Combine(Path.GetDirectoryName(depsJson)!, Path.GetFileName(file.Name))).Version;
            }
        }

        return result;
    }

    /// <summary>The folder of the shared framework <paramref name="name"/> in the version this test runs on (else the newest).</summary>
    private static string SharedFramework(string name)
    {
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var frameworks = Path.Combine(runtime, "..", "..", name);
        var same = Path.Combine(frameworks, Path.GetFileName(runtime));
        return Directory.Exists(same)
            ? same
            : Directory.GetDirectories(frameworks).OrderBy(d => Version.TryParse(Path.GetFileName(d), out var v) ? v : new Version()).Last();
    }

    /// <summary>Every exception type of one assembly, public or not (Orleans sends either), as "type (assembly)".</summary>
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

        try
        {
            return assembly.GetTypes().Where(t => typeof(Exception).IsAssignableFrom(t)).Select(t => $"{t.FullName} ({Path.GetFileName(file)})").ToList();
        }
        catch (ReflectionTypeLoadException ex)
        {
            // Types this check cannot see could be any: say so rather than pass.
            return [$"{Path.GetFileName(file)}: types that could not be loaded: {string.Join("; ", ex.LoaderExceptions.Select(e => e?.Message).Distinct().Take(3))}"];
        }
    }
}
