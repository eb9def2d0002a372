using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Tests.Auth;

/// <summary>Every log line the app writes at any level, message and structured values, for the no-token check.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>Fails when any line holds one of the tokens or its signature (or payload) segment.</summary>
    public void AssertNoTokens(IEnumerable<string> tokens)
    {
        var secrets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var token in tokens)
        {
            secrets.Add(token);
            var parts = token.Split('.');
            // Header segments repeat across tokens and are not secret; payload and signature are.
            foreach (var part in parts.Skip(1).Where(p => p.Length >= 16))
            {
                secrets.Add(part);
            }
        }

        foreach (var line in Lines)
        {
            foreach (var secret in secrets)
            {
                Assert.False(line.Contains(secret, StringComparison.Ordinal), $"A log line contains a token or part of one: {line[..Math.Min(line.Length, 300)]}");
            }
        }
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            owner.Lines.Enqueue($"scope {category} {Describe(state)}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel} {category} [{eventId.Id}] {formatter(state, exception)} {Describe(state)} {exception}");

        private static string Describe<TState>(TState state)
        {
            if (state is not IEnumerable<KeyValuePair<string, object?>> values)
            {
                return state?.ToString() ?? "";
            }

            var text = new StringBuilder();
            foreach (var (key, value) in values)
            {
                text.Append(key).Append('=').Append(value).Append(' ');
            }

            return text.ToString();
        }
    }
}
