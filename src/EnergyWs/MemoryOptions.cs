namespace EnergyWs;

/// <summary>Memory housekeeping. Nothing to validate beyond the binding, which ValidateOnStart checks.</summary>
internal sealed class MemoryOptions
{
    public const string Section = "Memory";

    /// <summary>
    /// Compact the managed heap once the service is ready (<see cref="StartupHeapCompaction"/>);
    /// <c>false</c> turns it off (the test suite, which hosts many servers in one process).
    /// </summary>
    public bool CompactAfterStart { get; set; } = true;
}
