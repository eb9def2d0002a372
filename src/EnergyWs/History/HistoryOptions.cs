using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace EnergyWs.History;

internal sealed class HistoryOptions : IValidatableObject
{
    public const string Section = "History";

    /// <summary>A day of readings: what a dashboard's longest default chart shows.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(24);

    /// <summary>
    /// A day at one reading a second is 86,400; 100,000 leaves room for a second meter at a
    /// slower rate. A frame costs ~400 bytes (reading, JSON, ring slot), so ~40 MB at the bound.
    /// </summary>
    public const int DefaultMaxReadings = 100_000;

    /// <summary>The largest <see cref="ReplayBudget"/>: ~800 MB of frame references, far beyond any history.</summary>
    public const int MaxReplayBudget = 100_000_000;

    /// <summary>One API response stays a few MB at most.</summary>
    public const int DefaultMaxApiReadings = 10_000;

    /// <summary>How long a connecting client waits for its replay's share before it is refused (503); long enough for a few full replays to drain.</summary>
    public static readonly TimeSpan DefaultReplayWaitTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a whole replay may take to write before the client is closed as too slow (1008):
    /// a full default history (~40 MB) needs about 5 Mbit/s.
    /// </summary>
    public static readonly TimeSpan DefaultReplayTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Readings older than this (by their own timestamp) are dropped; also the cap on ?history=.</summary>
    [TimeSpanRange("00:00:01", "31.00:00:00", ErrorMessage = "History:Window must be between 00:00:01 and 31.00:00:00.")]
    public TimeSpan Window { get; set; } = DefaultWindow;

    /// <summary>Readings kept in memory; the oldest go first. Also the records read back per partition at start.</summary>
    [Range(1, 10_000_000, ErrorMessage = "History:MaxReadings must be between 1 and 10000000.")]
    public int MaxReadings { get; set; } = DefaultMaxReadings;

    /// <summary>Readings one GET /api/readings returns at most; the newest are kept.</summary>
    [Range(1, 1_000_000, ErrorMessage = "History:MaxApiReadings must be between 1 and 1000000.")]
    public int MaxApiReadings { get; set; } = DefaultMaxApiReadings;

    /// <summary>
    /// Frames all WebSocket replays in flight may hold together; a replay takes its share before its
    /// snapshot and gives it back once written. Unset, see <see cref="EffectiveReplayBudget"/>.
    /// </summary>
    [Range(1, MaxReplayBudget, ErrorMessage = "History:ReplayBudget must be between 1 and 100000000.")]
    public int? ReplayBudget { get; set; }

    /// <summary>
    /// The budget in force: <see cref="ReplayBudget"/>, or unset twice <see cref="MaxReadings"/>: two
    /// full-history replays at once. A replayed frame the history still holds costs ~8 bytes (its
    /// list entry); while the history turns over, a replay pins whole frames the history dropped
    /// (~400 bytes each), so the worst case is this many frames × ~400 bytes on top of the history
    /// (~80 MB at the default).
    /// </summary>
    public int EffectiveReplayBudget => ReplayBudget ?? (int)Math.Min(2L * MaxReadings, MaxReplayBudget);

    /// <summary>How long a connecting client waits for its replay's share of <see cref="EffectiveReplayBudget"/>.</summary>
    [TimeSpanRange("00:00:00", "00:05:00", ErrorMessage = "History:ReplayWaitTimeout must be between 00:00:00 and 00:05:00.")]
    public TimeSpan ReplayWaitTimeout { get; set; } = DefaultReplayWaitTimeout;

    /// <summary>How long one replay may take to write, whole; beyond it the client is closed as too slow and its share given back.</summary>
    [TimeSpanRange("00:00:01", "01:00:00", ErrorMessage = "History:ReplayTimeout must be between 00:00:01 and 01:00:00.")]
    public TimeSpan ReplayTimeout { get; set; } = DefaultReplayTimeout;

    /// <summary>A full-history replay must fit in the budget, or it could never start.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (EffectiveReplayBudget < MaxReadings)
        {
            yield return new ValidationResult(
                "History:ReplayBudget must be at least History:MaxReadings.", [nameof(ReplayBudget)]);
        }
    }
}

[OptionsValidator]
internal sealed partial class HistoryOptionsValidator : IValidateOptions<HistoryOptions>;
