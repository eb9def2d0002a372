using Microsoft.Extensions.Options;

namespace EnergyWs.History;

/// <summary>
/// Bounds the frames held by replays in flight across all clients (<see cref="HistoryOptions.EffectiveReplayBudget"/>):
/// a replay acquires its share before it takes its snapshot and gives it back once written.
/// </summary>
/// <remarks>
/// First come, first served: a request waits while anyone is queued ahead of it, so a large replay
/// is not starved by a stream of small ones. The lock guards the count and the queue; it is held
/// for O(1) work, plus one step per waiter granted on release.
/// </remarks>
internal sealed class ReplayBudget
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly TimeProvider _time;
    private long _available;

    public ReplayBudget(IOptions<HistoryOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _time = time;
        Capacity = options.Value.EffectiveReplayBudget;
        WaitTimeout = options.Value.ReplayWaitTimeout;
        _available = Capacity;
    }

    /// <summary>Frames all replays in flight may hold together.</summary>
    public int Capacity { get; }

    /// <summary>How long a replay waits for its share before it is refused.</summary>
    public TimeSpan WaitTimeout { get; }

    /// <summary>Frames not held by any replay now.</summary>
    public long Available
    {
        get
        {
            lock (_gate)
            {
                return _available;
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="frames"/> (capped at <see cref="Capacity"/>), waiting up to
    /// <see cref="WaitTimeout"/>; null when the wait ran out. Throws when cancelled.
    /// </summary>
    public async ValueTask<Lease?> AcquireAsync(int frames, CancellationToken cancellationToken)
    {
        var wanted = Math.Clamp(frames, 0, Capacity);
        Waiter waiter;
        lock (_gate)
        {
            if (_waiters.Count == 0 && _available >= wanted)
            {
                _available -= wanted;
                return new Lease(this, wanted);
            }

            waiter = new Waiter(wanted);
            waiter.Node = _waiters.AddLast(waiter);
        }

        try
        {
            await waiter.Granted.Task.WaitAsync(WaitTimeout, _time, cancellationToken).ConfigureAwait(false);
            return new Lease(this, wanted);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            bool granted;
            lock (_gate)
            {
                // Granted in the meantime (the release won the race): give it back.
                granted = waiter.Node!.List is null;
                if (!granted)
                {
                    _waiters.Remove(waiter.Node);
                }
            }

            if (granted)
            {
                Release(wanted);
            }
            else
            {
                // Leaving the head of the queue may let the ones behind it in.
                Release(0);
            }

            if (ex is OperationCanceledException)
            {
                throw;
            }

            return null;
        }
    }

    private void Release(long frames)
    {
        List<Waiter>? granted = null;
        lock (_gate)
        {
            _available += frames;
            while (_waiters.First is { } first && first.Value.Frames <= _available)
            {
                _available -= first.Value.Frames;
                _waiters.RemoveFirst();
                (granted ??= []).Add(first.Value);
            }
        }

        // Outside the lock: continuations run asynchronously anyway, but nothing waits on us.
        if (granted is not null)
        {
            foreach (var waiter in granted)
            {
                waiter.Granted.TrySetResult();
            }
        }
    }

    private sealed class Waiter(long frames)
    {
        public long Frames { get; } = frames;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }

    /// <summary>A replay's share of the budget; disposing gives back what is left of it (once).</summary>
    internal sealed class Lease : IDisposable
    {
        private readonly ReplayBudget _budget;
        private long _frames;

        public Lease(ReplayBudget budget, long frames)
        {
            _budget = budget;
            _frames = frames;
        }

        /// <summary>Frames this lease holds now.</summary>
        public int Frames => (int)Volatile.Read(ref _frames);

        /// <summary>Gives back all but <paramref name="frames"/> (what the snapshot turned out to need).</summary>
        public void Keep(int frames)
        {
            var held = Volatile.Read(ref _frames);
            var keep = Math.Clamp(frames, 0, held);
            if (keep < held && Interlocked.CompareExchange(ref _frames, keep, held) == held)
            {
                _budget.Release(held - keep);
            }
        }

        public void Dispose()
        {
            var held = Interlocked.Exchange(ref _frames, 0);
            if (held > 0)
            {
                _budget.Release(held);
            }
        }
    }
}
