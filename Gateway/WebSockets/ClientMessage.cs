using System.Text.Json;

namespace BookShelf.Gateway.WebSockets;

/// <summary>A parsed client message: <c>subscribe</c> (with <c>presence</c>: push the group's presence count too), <c>unsubscribe</c> or <c>ping</c>.</summary>
public sealed record ClientMessage(string Type, string? Group, long? Resume, bool Presence = false, bool Counted = true)
{
    /// <summary>Parses one text message; on failure returns null and an error code and message for the client.</summary>
    public static ClientMessage? Parse(ReadOnlySpan<byte> utf8, out string? errorCode, out string? error)
    {
        errorCode = null;
        error = null;
        string? type = null;
        string? group = null;
        long? resume = null;
        var presence = false;
        var counted = true;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 4 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail("bad_message", "A message is a JSON object.", out errorCode, out error);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "type" when reader.TokenType == JsonTokenType.String:
                        type = reader.GetString();
                        break;
                    case "group" when reader.TokenType == JsonTokenType.String:
                        group = reader.GetString();
                        break;
                    case "resume" when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var seq) && seq >= 0:
                        resume = seq;
                        break;
                    case "resume" when reader.TokenType == JsonTokenType.Null:
                        break;
                    case "presence" when reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                        presence = reader.GetBoolean();
                        break;
                    case "counted" when reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                        counted = reader.GetBoolean();
                        break;
                    case "type" or "group" or "resume" or "presence" or "counted":
                        return Fail("bad_message", $"'{name}' has the wrong type.", out errorCode, out error);
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return Fail("bad_json", "The message is not valid JSON.", out errorCode, out error);
            }
        }
        catch (JsonException)
        {
            return Fail("bad_json", "The message is not valid JSON.", out errorCode, out error);
        }

        return type switch
        {
            null => Fail("bad_message", "The message has no 'type'.", out errorCode, out error),
            "subscribe" or "unsubscribe" when group is null => Fail("bad_message", $"'{type}' needs a 'group'.", out errorCode, out error),
            "subscribe" or "unsubscribe" or "ping" => new ClientMessage(type, group, resume, presence, counted),
            _ => Fail("unknown_type", $"Unknown message type '{type}'.", out errorCode, out error),
        };
    }

    private static ClientMessage? Fail(string code, string message, out string? errorCode, out string? error)
    {
        errorCode = code;
        error = message;
        return null;
    }
}
