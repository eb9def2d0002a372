// energy-ws-client.js — a reconnecting browser client for energy-ws. No dependencies.
//
//   import { EnergyWsClient } from '/energy-ws-client.js';
//   const client = new EnergyWsClient({
//     url: '/ws',                          // absolute ws(s):// or http(s):// URL, or a path on this origin
//     getToken: async ({ reason }) => sessionStorage.getItem('token'),   // null: connect without a token
//     history: '15m',                      // first connect replays this much, then live
//     devices: ['shelly-em-1'], channels: ['0'],   // optional selection (default: everything)
//     onReading: (reading) => { ... },     // each reading once, in order per device/channel
//     onStateChange: (state, detail) => { ... },  // 'connecting' | 'open' | 'reconnecting' | 'token-expired' | 'closed'
//     onError: (error) => { ... },         // control errors from the server, unreadable messages
//     onControl: (message) => { ... },     // control replies ({type:'pong'|'subscribed'|'error', …})
//     minDelay: 1000, maxDelay: 30000,     // reconnect backoff bounds, ms
//     stableAfter: 10000,                  // ms open before the backoff resets
//     pingInterval: 15000, pongTimeout: 10000,   // ms: silence before a ping, then before reconnecting
//     resumeSpan: 60000,                   // ms: meters counted when choosing where to resume
//   });
//   client.reconnect();                    // reconnect now (e.g. after the user entered a token)
//   client.close();                        // stops for good
//
// What it does for you:
// - Sends the token as the WebSocket subprotocol pair ['bearer', token] (never in the URL, so it
//   stays out of access logs). getToken is called before every connection attempt with a reason:
//   'connect' (first), 'reconnect', 'expired' (the server closed with 4401: fetch a fresh token)
//   or 'failed' (the previous attempt never opened: the token may be missing or rejected).
// - Refreshes the token in-band: with getToken set it asks the server for notices (?notices=1);
//   shortly before the token expires the server sends {"type":"token_expiring","expires_at":…},
//   getToken({ reason: 'expiring', expiresAt }) is called, and its token goes over the open socket
//   as {"type":"refresh","token":…}. The stream goes on without a reconnect; the server answers
//   {"type":"refreshed","expires_at":…} (onControl), or an error with code 'invalid_token' (onError),
//   after which the connection still ends at the old expiry and reconnects with reason 'expired'.
//   getToken returning null for 'expiring' skips the refresh.
// - Reconnects forever: exponential backoff with full jitter, each wait random up to `minDelay`
//   doubling per attempt, at most `maxDelay`; reset once a connection has stayed open for
//   `stableAfter`. Every close code but 4401 leads to this reconnect.
// - Resumes without a gap: reconnects ask for `since=` the oldest last timestamp among the
//   devices/channels that reported within `resumeSpan` of the newest one, and readings at or
//   before the last one already delivered (per device/channel) are dropped, so each reading
//   reaches onReading exactly once even when replay and live overlap.
// - Notices a silent connection: after `pingInterval` without any message it sends
//   {"type":"ping"}; if nothing at all arrives within `pongTimeout` after that, it reconnects.
//   A meter reporting every second never needs a ping.

const DEFAULTS = Object.freeze({
  url: '/ws',
  history: null,
  since: null,
  devices: null,
  channels: null,
  minDelay: 1000,
  maxDelay: 30000,
  stableAfter: 10000,
  pingInterval: 15000,
  pongTimeout: 10000,
  // Resume from the oldest device/channel that reported within this span of the newest, so one
  // meter gone quiet for days does not make every reconnect replay days of the others.
  resumeSpan: 60000,
});

/** Close codes the server uses (see docs/protocol.md, "Close codes"). */
export const CloseCodes = Object.freeze({
  normal: 1000,
  goingAway: 1001,
  abnormal: 1006,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
  serverError: 1011,
  tokenExpired: 4401,
});

export class EnergyWsClient {
  #options;
  #socket = null;
  #state = 'closed';
  #stopped = false;
  #attempt = 0;          // consecutive failed attempts, drives the backoff
  #retryTimer = 0;
  #stableTimer = 0;
  #silenceTimer = 0;
  #pinged = false;
  #opened = false;       // did the current socket reach 'open'
  #last = new Map();     // device|channel -> { ms, iso } of the last delivered reading
  #connectId = 0;        // guards against a stale getToken resolving after close()/reconnect

  constructor(options = {}) {
    this.#options = { ...DEFAULTS, ...options };
    // Started after the constructor returns, so handlers may already use the returned client.
    queueMicrotask(() => this.#connect('connect'));
  }

  /** 'connecting' | 'open' | 'reconnecting' | 'token-expired' | 'closed' */
  get state() { return this.#state; }

  /** Timestamp (ISO string) of the newest reading delivered, or null. */
  get lastTimestamp() {
    let newest = null;
    for (const v of this.#last.values()) if (!newest || v.ms > newest.ms) newest = v;
    return newest ? newest.iso : null;
  }

  /** Sends a control message (e.g. {type:'subscribe', devices:[…]}); false when not connected. */
  send(message) {
    if (!this.#socket || this.#socket.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    return true;
  }

  /** Drops the current connection (or the wait before the next one) and connects at once. */
  reconnect() {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimer);
    this.#clearTimers();
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, 'reconnecting');
    this.#attempt = 0;
    this.#setState('reconnecting', { reason: 'requested' });
    this.#connect('reconnect');
  }

  /** Stops for good: closes the socket and cancels every timer. */
  close() {
    this.#stopped = true;
    this.#connectId++;
    this.#clearTimers();
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, 'client closing');
    this.#setState('closed', {});
  }

  async #connect(reason) {
    if (this.#stopped) return;
    const id = ++this.#connectId;
    if (reason === 'connect') this.#setState('connecting', { reason });

    let token = null;
    try {
      token = this.#options.getToken ? await this.#options.getToken({ reason }) : null;
    } catch (error) {
      this.#report(error);
    }
    if (id !== this.#connectId || this.#stopped) return;

    let socket;
    try {
      socket = token ? new WebSocket(this.#buildUrl(), ['bearer', token]) : new WebSocket(this.#buildUrl());
    } catch (error) {
      // A malformed URL or token throws synchronously; treat like a failed attempt.
      this.#report(error);
      this.#scheduleReconnect('failed');
      return;
    }

    this.#socket = socket;
    this.#opened = false;
    socket.onopen = () => {
      if (socket !== this.#socket) return;
      this.#opened = true;
      this.#setState('open', { protocol: socket.protocol });
      this.#armSilence();
      clearTimeout(this.#stableTimer);
      this.#stableTimer = setTimeout(() => { this.#attempt = 0; }, this.#options.stableAfter);
    };
    socket.onmessage = (event) => {
      if (socket !== this.#socket) return;
      this.#armSilence();
      this.#handle(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      this.#clearTimers();
      if (this.#stopped) return;
      if (event.code === CloseCodes.tokenExpired) {
        this.#setState('token-expired', { code: event.code, reason: event.reason });
        // A fresh token is needed, at once after a long-lived connection; but a token source that
        // keeps handing out expired tokens must not spin, so repeats go through the backoff.
        if (this.#attempt === 0) {
          this.#attempt++;
          this.#connect('expired');
        } else {
          this.#scheduleReconnect('expired', event);
        }
        return;
      }
      this.#scheduleReconnect(this.#opened ? 'reconnect' : 'failed', event);
    };
    // onerror is always followed by onclose; the close carries what we need.
    socket.onerror = () => {};
  }

  #scheduleReconnect(reason, event) {
    if (this.#stopped) return;
    const cap = Math.min(this.#options.maxDelay, this.#options.minDelay * 2 ** this.#attempt);
    const delay = Math.random() * cap;   // full jitter: spreads a thousand dashboards after a restart
    this.#attempt++;
    this.#setState('reconnecting', { reason, attempt: this.#attempt, delay, code: event?.code, closeReason: event?.reason });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(reason), delay);
  }

  #buildUrl() {
    const o = this.#options;
    const base = typeof location !== 'undefined' ? location.href : undefined;
    const url = new URL(o.url, base);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
    const params = url.searchParams;
    params.delete('since');
    params.delete('history');
    const since = this.#resumePoint() ?? o.since;
    if (since) params.set('since', since);
    else if (o.history) params.set('history', o.history);
    for (const d of o.devices ?? []) params.append('device', d);
    for (const c of o.channels ?? []) params.append('channel', String(c));
    if (o.getToken) params.set('notices', '1');
    return url.href;
  }

  /** The oldest last-timestamp among recently active device/channels: nothing of theirs is missed. */
  #resumePoint() {
    let newest = -Infinity;
    for (const v of this.#last.values()) newest = Math.max(newest, v.ms);
    let oldest = null;
    for (const v of this.#last.values()) {
      if (v.ms >= newest - this.#options.resumeSpan && (!oldest || v.ms < oldest.ms)) oldest = v;
    }
    return oldest ? oldest.iso : null;
  }

  #handle(data) {
    if (typeof data !== 'string') return;   // the service sends text frames only
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      this.#report(new Error('unreadable message: ' + data.slice(0, 100)));
      return;
    }
    if (message === null || typeof message !== 'object') return;
    if ('type' in message) {   // control reply: readings never carry a type
      if (message.type === 'error') this.#report(Object.assign(new Error(message.message ?? 'server error'), { code: message.code }));
      if (message.type === 'token_expiring') this.#refresh(message.expires_at);
      this.#options.onControl?.(message);
      return;
    }
    const ms = Date.parse(message.timestamp);
    if (Number.isNaN(ms)) {
      this.#report(new Error('reading without a valid timestamp'));
      return;
    }
    const key = (message.device ?? '') + '|' + (message.channel ?? '');
    const last = this.#last.get(key);
    if (last && ms <= last.ms) return;   // replay overlap or a duplicate: already delivered
    this.#last.set(key, { ms, iso: message.timestamp });
    try {
      this.#options.onReading?.(message);
    } catch (error) {
      this.#report(error);   // an app bug must not kill the connection
    }
  }

  /** Fetches a fresh token and hands it to the open connection; the socket is never replaced. */
  async #refresh(expiresAt) {
    if (!this.#options.getToken) return;
    const socket = this.#socket;
    let token = null;
    try {
      token = await this.#options.getToken({ reason: 'expiring', expiresAt });
    } catch (error) {
      this.#report(error);
    }
    // The connection may have ended meanwhile; its successor gets a token through #connect.
    if (!token || this.#stopped || socket !== this.#socket) return;
    this.send({ type: 'refresh', token });
  }

  #armSilence() {
    clearTimeout(this.#silenceTimer);
    this.#pinged = false;
    const { pingInterval, pongTimeout } = this.#options;
    const onSilence = () => {
      const socket = this.#socket;
      if (!socket) return;
      if (!this.#pinged) {
        this.#pinged = true;
        this.send({ type: 'ping' });
        this.#silenceTimer = setTimeout(onSilence, pongTimeout);
      } else {
        // Nothing since the ping: the path is dead even if the socket does not know yet.
        this.#socket = null;
        this.#clearTimers();
        try { socket.close(4000, 'silent'); } catch { /* already closing */ }
        this.#scheduleReconnect('silent');
      }
    };
    this.#silenceTimer = setTimeout(onSilence, pingInterval);
  }

  #clearTimers() {
    clearTimeout(this.#silenceTimer);
    clearTimeout(this.#stableTimer);
  }

  #setState(state, detail) {
    const changed = state !== this.#state;
    this.#state = state;
    if (changed || state === 'reconnecting') {
      try { this.#options.onStateChange?.(state, detail); } catch (error) { this.#report(error); }
    }
  }

  #report(error) {
    try { this.#options.onError?.(error); } catch { /* never let a handler break the loop */ }
  }
}
