using Microsoft.Extensions.Options;

namespace EnergyWs.History;

/// <summary>
/// Bounds the frames held by replays in flight across all clients (<see cref="HistoryOptions.EffectiveReplayBudget"/>):
/// a replay acquires its share before it takes its snapshot and gives it back once written. A
/// principal (a token subject, client id or IP) has at most one share at a time.
/// </summary>
/// <remarks>
/// A request that fits in what is free is granted at once, even while others wait: a small
/// replay (latest values, a short reconnect) never queues behind a large one. Those that do not
/// fit wait first come, first served; a release grants from the head of that queue while the head
/// fits. Small replays arriving steadily can keep a large waiter from fitting, but only until its
/// <see cref="WaitTimeout"/>, and every share is held for at most <see cref="HistoryOptions.ReplayTimeout"/>.
/// The lock guards the count, the queue and the principals; it is held for O(1) work, plus one
/// step per waiter granted on release.
/// </remarks>
internal sealed class ReplayBudget
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();

    // Principals holding a share, each with what completes once they give it back.
    private readonly Dictionary<string, TaskCompletionSource> _principals = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private long _available;
    private int _leases;
    private int _mostLeases;

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

    /// <summary>The most shares held at once so far.</summary>
    public int MostLeasesAtOnce => Volatile.Read(ref _mostLeases);

    /// <summary>
    /// Takes <paramref name="frames"/> (capped at <see cref="Capacity"/>), waiting up to
    /// <see cref="WaitTimeout"/>; null when the wait ran out. Throws when cancelled.
    /// </summary>
    public async ValueTask<Lease?> AcquireAsync(int frames, CancellationToken cancellationToken) =>
        (await AcquireAsync(null, frames, cancellationToken).ConfigureAwait(false)).Lease;

    /// <summary>
    /// Takes <paramref name="frames"/> (capped at <see cref="Capacity"/>) for <paramref name="principal"/>
    /// (null: not bound per principal), waiting up to <see cref="WaitTimeout"/> in all, first for the
    /// principal's share in flight to be given back, then for the frames. Throws when cancelled.
    /// </summary>
    public async ValueTask<Grant> AcquireAsync(string? principal, int frames, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        if (principal is not null)
        {
            while (true)
            {
                TaskCompletionSource? busy;
                lock (_gate)
                {
                    if (!_principals.TryGetValue(principal, out busy))
                    {
                        _principals.Add(principal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                        break;
                    }
                }

                var left = WaitTimeout - _time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    return new Grant(null, PrincipalBusy: true);
                }

                try
                {
                    await busy.Task.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    return new Grant(null, PrincipalBusy: true);
                }
            }
        }

        try
        {
            var remaining = WaitTimeout - _time.GetElapsedTime(started);
            var lease = await AcquireFramesAsync(principal, frames, remaining < TimeSpan.Zero ? TimeSpan.Zero : remaining, cancellationToken).ConfigureAwait(false);
            if (lease is null)
            {
                ReleasePrincipal(principal);
            }

            return new Grant(lease, PrincipalBusy: false);
        }
        catch
        {
            ReleasePrincipal(principal);
            throw;
        }
    }

    private async ValueTask<Lease?> AcquireFramesAsync(string? principal, int frames, TimeSpan wait, CancellationToken cancellationToken)
    {
        var wanted = Math.Clamp(frames, 0, Capacity);
        Waiter waiter;
        lock (_gate)
        {
            // Fits in what is free: granted whoever waits (see the remarks).
            if (_available >= wanted)
            {
                _available -= wanted;
                return new Lease(this, wanted, principal);
            }

            waiter = new Waiter(wanted);
            waiter.Node = _waiters.AddLast(waiter);
        }

        try
        {
            await waiter.Granted.Task.WaitAsync(wait, _time, cancellationToken).ConfigureAwait(false);
            return new Lease(this, wanted, principal);
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

    private void ReleasePrincipal(string? principal)
    {
        if (principal is null)
        {
            return;
        }

        TaskCompletionSource? released;
        lock (_gate)
        {
            _principals.Remove(principal, out released);
        }

        released?.TrySetResult();
    }

    /// <summary>What <see cref="AcquireAsync(string?, int, CancellationToken)"/> got: a lease, or why not.</summary>
    /// <param name="Lease">The share; null when refused.</param>
    /// <param name="PrincipalBusy">Refused because the principal's replay in flight was not given back in time.</param>
    internal readonly record struct Grant(Lease? Lease, bool PrincipalBusy);

    private sealed class Waiter(long frames)
    {
        public long Frames { get; } = frames;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }

    /// <summary>
    /// A replay's share of the budget; disposing gives back what is left of it and the principal's
    /// turn (once).
    /// </summary>
    internal sealed class Lease : IDisposable
    {
        private readonly ReplayBudget _budget;
        private readonly string? _principal;
        private long _frames;
        private int _disposed;

        public Lease(ReplayBudget budget, long frames, string? principal = null)
        {
            _budget = budget;
            _frames = frames;
            _principal = principal;
            var leases = Interlocked.Increment(ref budget._leases);
            var most = Volatile.Read(ref budget._mostLeases);
            while (leases > most && Interlocked.CompareExchange(ref budget._mostLeases, leases, most) is var seen && seen != most)
            {
                most = seen;
            }
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
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            // Before the frames go back: the share they let in is counted after this one is gone.
            Interlocked.Decrement(ref _budget._leases);

            var held = Interlocked.Exchange(ref _frames, 0);
            if (held > 0)
            {
                _budget.Release(held);
            }

            _budget.ReleasePrincipal(_principal);
        }
    }
}
