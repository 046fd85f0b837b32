using System.Text.Json;
using System.Text.Json.Serialization;

namespace BookShelf.Bench;

/// <summary>JSON settings shared by the orchestrator, the workers and the report.</summary>
public static class Json
{
    /// <summary>camelCase, enums as strings.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>As <see cref="Options"/>, indented.</summary>
    public static JsonSerializerOptions Indented { get; } = new(Options) { WriteIndented = true };
}
