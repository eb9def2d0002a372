using System.Text.Json;
using EnergyWs.Readings;

namespace EnergyWs.Streaming.Protocol;

/// <summary>
/// A client's control message, parsed by hand (no reflection): <c>type</c> plus the optional
/// string lists <c>devices</c>, <c>channels</c> and <c>streams</c>. Other properties are ignored.
/// </summary>
internal sealed class ControlMessage
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 4 };

    public string? Type { get; private set; }

    /// <summary>Present in the message (possibly as null, meaning "all").</summary>
    public bool HasDevices { get; private set; }

    public List<string>? Devices { get; private set; }

    public bool HasChannels { get; private set; }

    public List<string>? Channels { get; private set; }

    public bool HasStreams { get; private set; }

    public List<string>? Streams { get; private set; }

    /// <summary>The access token of a <c>refresh</c>; null when absent or not a string.</summary>
    public string? Token { get; private set; }

    /// <summary>Parses one message; on failure <paramref name="code"/> and <paramref name="error"/> say why.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out ControlMessage message, out string code, out string error)
    {
        message = new ControlMessage();
        code = "";
        error = "";

        // Text and binary frames alike reach here unvalidated; after this check reading a string cannot throw.
        if (!JsonValues.HasReadableText(json))
        {
            return Fail(ErrorCodes.InvalidJson, "The message is not valid UTF-8 text, or escapes an unpaired surrogate.", out code, out error);
        }

        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail(ErrorCodes.InvalidJson, "A control message is a JSON object.", out code, out error);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return Fail(ErrorCodes.InvalidMessage, "'type' must be a string.", out code, out error);
                    }

                    message.Type = reader.GetString();
                }
                else if (reader.ValueTextEquals("devices"u8))
                {
                    message.HasDevices = true;
                    if (!TryReadList(ref reader, "devices", out var list, out error))
                    {
                        return Fail(ErrorCodes.InvalidMessage, error, out code, out error);
                    }

                    message.Devices = list;
                }
                else if (reader.ValueTextEquals("channels"u8))
                {
                    message.HasChannels = true;
                    if (!TryReadList(ref reader, "channels", out var list, out error))
                    {
                        return Fail(ErrorCodes.InvalidMessage, error, out code, out error);
                    }

                    message.Channels = list;
                }
                else if (reader.ValueTextEquals("token"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        message.Token = reader.GetString();
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("streams"u8))
                {
                    message.HasStreams = true;
                    if (!TryReadList(ref reader, "streams", out var list, out error))
                    {
                        return Fail(ErrorCodes.InvalidMessage, error, out code, out error);
                    }

                    message.Streams = list;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return Fail(ErrorCodes.InvalidJson, "A control message is one JSON object.", out code, out error);
            }
        }
        catch (JsonException)
        {
            return Fail(ErrorCodes.InvalidJson, "The message is not valid JSON.", out code, out error);
        }

        if (string.IsNullOrEmpty(message.Type))
        {
            return Fail(ErrorCodes.MissingType, "A control message needs a 'type'.", out code, out error);
        }

        return true;
    }

    /// <summary>null, or an array of at most 64 strings of at most 128 characters (the query string's bounds).</summary>
    private static bool TryReadList(ref Utf8JsonReader reader, string name, out List<string>? list, out string error)
    {
        list = null;
        error = "";
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            error = $"'{name}' must be an array of strings or null.";
            return false;
        }

        list = [];
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                error = $"'{name}' must be an array of strings or null.";
                return false;
            }

            var value = reader.GetString()!;
            if (value.Length == 0 || value.Length > WebSocketEndpoint.MaxFilterLength)
            {
                error = $"A '{name}' value must be 1 to {WebSocketEndpoint.MaxFilterLength} characters.";
                return false;
            }

            if (list.Count == WebSocketEndpoint.MaxFilterValues)
            {
                error = $"At most {WebSocketEndpoint.MaxFilterValues} '{name}' values are allowed.";
                return false;
            }

            list.Add(value);
        }

        return true;
    }

    private static bool Fail(string code, string message, out string codeOut, out string errorOut)
    {
        codeOut = code;
        errorOut = message;
        return false;
    }
}

/// <summary>The <c>code</c> of an error reply: one stable word per kind of mistake.</summary>
internal static class ErrorCodes
{
    public const string InvalidJson = "invalid_json";
    public const string MissingType = "missing_type";
    public const string UnknownType = "unknown_type";
    public const string InvalidMessage = "invalid_message";
    public const string TooManyValues = "too_many_values";
    public const string UnknownStream = "unknown_stream";
    public const string ForbiddenStream = "forbidden_stream";
    public const string RateLimited = "rate_limited";
    public const string InvalidToken = "invalid_token";
}
