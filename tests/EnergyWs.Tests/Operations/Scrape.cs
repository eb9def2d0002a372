using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Operations;

/// <summary>HTTP helpers for the operational endpoints: Prometheus text parsing and status polling.</summary>
internal static partial class Scrape
{
    /// <summary>Sum of every sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/>; null if none.</summary>
    public static double? Value(string text, string name, params (string Key, string Value)[] labels)
    {
        double? sum = null;
        foreach (var line in text.Split('\n'))
        {
            var match = Sample().Match(line);
            if (!match.Success || match.Groups["name"].Value != name)
            {
                continue;
            }

            var have = match.Groups["labels"].Value;
            if (labels.All(l => have.Contains($"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                sum = (sum ?? 0) + double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>
    /// The sample of <paramref name="name"/> whose labels are exactly <paramref name="labels"/>
    /// (besides the exporter's otel_scope_* labels); null if none.
    /// </summary>
    public static double? Exact(string text, string name, params (string Key, string Value)[] labels)
    {
        var want = labels.Select(l => $"{l.Key}={l.Value}").Order(StringComparer.Ordinal).ToList();
        foreach (var line in text.Split('\n'))
        {
            var match = Sample().Match(line);
            if (!match.Success || match.Groups["name"].Value != name)
            {
                continue;
            }

            var have = Label().Matches(match.Groups["labels"].Value)
                .Where(m => !m.Groups["key"].Value.StartsWith("otel_scope_", StringComparison.Ordinal))
                .Select(m => $"{m.Groups["key"].Value}={m.Groups["value"].Value}")
                .Order(StringComparer.Ordinal);
            if (have.SequenceEqual(want))
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    public static async Task<string> MetricsAsync(HttpClient http, CancellationToken cancellationToken) =>
        await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);

    /// <summary>Polls <paramref name="path"/> until it answers <paramref name="expected"/>; returns the last body.</summary>
    public static async Task<string> UntilStatusAsync(HttpClient http, string path, HttpStatusCode expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var last = "";
        HttpStatusCode? status = null;
        try
        {
            while (true)
            {
                using var response = await http.GetAsync(new Uri(path, UriKind.Relative), cts.Token);
                status = response.StatusCode;
                last = await response.Content.ReadAsStringAsync(cts.Token);
                if (status == expected)
                {
                    return last;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), cts.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{path} did not answer {(int)expected} within {timeout}; last {(int?)status}: {last}");
        }
    }

    /// <summary>Polls the metrics endpoint until <paramref name="condition"/> holds for the scrape.</summary>
    public static async Task<string> UntilMetricsAsync(HttpClient http, Func<string, bool> condition, string what, CancellationToken cancellationToken)
    {
        var text = "";
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(Eventually.DefaultTimeout);
        try
        {
            while (!condition(text = await MetricsAsync(http, cts.Token)))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), cts.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Timed out waiting until {what}. Last scrape:\n{text}");
        }

        return text;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})?\s+(?<value>\S+)")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
