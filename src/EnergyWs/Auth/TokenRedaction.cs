using System.Collections;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Auth;

/// <summary>
/// Keeps tokens out of ASP.NET's request logs. Hosting logs "Request starting … /ws?token=…" before
/// any middleware runs, so no middleware can hide the value; instead the loggers of the categories
/// that print request URLs rewrite the query string, keeping every other part of the line.
/// </summary>
internal sealed class RedactingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>Categories that log the request URL with its query string.</summary>
    private static readonly string[] UrlCategories = ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.HttpLogging"];

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        foreach (var prefix in UrlCategories)
        {
            if (categoryName.StartsWith(prefix, StringComparison.Ordinal))
            {
                return new RedactingLogger(logger);
            }
        }

        return logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    private sealed class RedactingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is IReadOnlyList<KeyValuePair<string, object?>> values && RedactedState.Create(values, state, exception, formatter) is { } redacted)
            {
                inner.Log(logLevel, eventId, redacted, exception, static (s, _) => s.ToString());
                return;
            }

            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }

    /// <summary>The original structured values and message, with token values in the query string replaced.</summary>
    private sealed class RedactedState(KeyValuePair<string, object?>[] values, string message) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => values.Length;

        public KeyValuePair<string, object?> this[int index] => values[index];

        public static RedactedState? Create<TState>(IReadOnlyList<KeyValuePair<string, object?>> values, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            for (var i = 0; i < values.Count; i++)
            {
                if (values[i] is { Key: "QueryString", Value: string { Length: > 0 } query } && TokenQuery.Redact(query) is { } redactedQuery)
                {
                    var copy = new KeyValuePair<string, object?>[values.Count];
                    for (var j = 0; j < copy.Length; j++)
                    {
                        copy[j] = j == i ? new(values[j].Key, redactedQuery) : values[j];
                    }

                    return new RedactedState(copy, formatter(state, exception).Replace(query, redactedQuery, StringComparison.Ordinal));
                }
            }

            return null;
        }

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)values).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => message;
    }
}

internal static class TokenQuery
{
    public const string Placeholder = "[redacted]";

    /// <summary>The query string with the values of token parameters replaced; null when it holds none.</summary>
    public static string? Redact(string query)
    {
        var parts = query.TrimStart('?').Split('&');
        var changed = false;
        for (var i = 0; i < parts.Length; i++)
        {
            var equals = parts[i].IndexOf('=', StringComparison.Ordinal);
            var rawName = equals < 0 ? parts[i] : parts[i][..equals];
            // Compare the decoded name: ?tok%65n= is read as ?token= by the query parser too.
            string name;
            try
            {
                name = Uri.UnescapeDataString(rawName.Replace('+', ' '));
            }
            catch (UriFormatException)
            {
                name = rawName;
            }

            if (Array.Exists(BearerToken.QueryParameters, p => string.Equals(p, name, StringComparison.OrdinalIgnoreCase)))
            {
                parts[i] = rawName + "=" + Placeholder;
                changed = true;
            }
        }

        return changed ? (query.StartsWith('?') ? "?" : "") + string.Join('&', parts) : null;
    }
}
