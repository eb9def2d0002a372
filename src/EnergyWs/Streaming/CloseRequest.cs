namespace EnergyWs.Streaming;

/// <summary>
/// Why a connection is closing, agreed by its writer, its reader and its lifecycle: the first reason
/// asked for wins. Asking wakes the writer, so it stops at the end of its current write.
/// </summary>
internal sealed class CloseRequest(AsyncSignal writerWake)
{
    private readonly TaskCompletionSource<CloseReason> _reason = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsRequested => _reason.Task.IsCompleted;

    /// <summary>Completes with the first reason asked for.</summary>
    public Task<CloseReason> Reason => _reason.Task;

    public void Request(CloseReason reason)
    {
        if (_reason.TrySetResult(reason))
        {
            writerWake.Signal();
        }
    }
}
