// The live dashboard. All connection logic lives in energy-ws-client.js; this file only renders.
import { EnergyWsClient } from './energy-ws-client.js';

const WINDOW_SECONDS = 15 * 60;
const TOKEN_KEY = 'energy-ws-token';
const $ = (id) => document.getElementById(id);

// ---- token: from #token=… (the fragment never reaches the server or its logs), else the paste box
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) {
  sessionStorage.setItem(TOKEN_KEY, fragment.get('token'));
  fragment.delete('token');
  // Drop the token from the address bar so it is not bookmarked or shared by accident.
  const rest = fragment.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
}

let tokenWaiter = null;   // resolves a pending getToken when the user submits the box

function askForToken(message) {
  $('token-why').textContent = message;
  $('token-form').hidden = false;
  $('token-input').focus();
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  $('token-form').hidden = true;
  if (tokenWaiter) {
    tokenWaiter(token);
    tokenWaiter = null;
  } else {
    client.reconnect();
  }
});

// A page that embeds the dashboard behind its own login can hand out fresh tokens:
// window.energyWsTokenSource = async ({ reason }) => token. Without one, the user pastes them.
const tokenSource = () => (typeof window.energyWsTokenSource === 'function' ? window.energyWsTokenSource : null);

function waitForPastedToken(message) {
  askForToken(message);
  tokenWaiter?.(null);   // an earlier question is superseded by this one
  return new Promise((resolve) => { tokenWaiter = resolve; });
}

let failures = 0;
async function getToken({ reason, expiresAt }) {
  const source = tokenSource();
  if (reason === 'expiring') {
    // The stream goes on while a new token is found; it is handed over without a reconnect.
    const token = source
      ? await source({ reason, expiresAt })
      : await waitForPastedToken(`Your access token expires at ${expiresAt ? new Date(expiresAt).toLocaleTimeString() : 'soon'}. Paste a new one to stay connected.`);
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    return token;
  }
  if (source) {
    const token = await source({ reason });
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    return token;
  }
  if (reason === 'expired') {
    sessionStorage.removeItem(TOKEN_KEY);
    return waitForPastedToken('Your access token has expired. Paste a new one to continue.');
  }
  failures = reason === 'failed' ? failures + 1 : 0;
  // A browser cannot see the 401 of a refused upgrade; repeated failures are the only hint.
  if (failures >= 2) askForToken(sessionStorage.getItem(TOKEN_KEY)
    ? 'Cannot connect. The server may be down, or your token was refused: paste a new one.'
    : 'Cannot connect. If this server needs an access token, paste it here.');
  return sessionStorage.getItem(TOKEN_KEY);
}

// ---- per device/channel state
const sources = new Map();   // key -> { label, xs, ys, latest, dayStart: { day, kwh, ms, exact } }
let selected = null;

const keyOf = (r) => (r.device ?? '') + '|' + (r.channel ?? '');
const labelOf = (r) => r.device ? (r.channel != null ? `${r.device} · ch ${r.channel}` : r.device) : (r.channel != null ? `channel ${r.channel}` : 'meter');
const localDay = (ms) => new Date(ms).toDateString();

function source(reading) {
  const key = keyOf(reading);
  let s = sources.get(key);
  if (!s) {
    s = { key, label: labelOf(reading), xs: [], ys: [], latest: null, dayStart: null };
    sources.set(key, s);
    updatePicker();
    if (selected === null) selected = key;
  }
  return s;
}

function onReading(reading) {
  const s = source(reading);
  const ms = Date.parse(reading.timestamp);
  s.latest = reading;
  if (typeof reading.power_w === 'number') {
    s.xs.push(ms / 1000);
    s.ys.push(reading.power_w);
    const cutoff = ms / 1000 - WINDOW_SECONDS - 5;
    let drop = 0;
    while (drop < s.xs.length && s.xs[drop] < cutoff) drop++;
    if (drop) { s.xs.splice(0, drop); s.ys.splice(0, drop); }
  }
  // Today's energy = counter now − first counter of the local day. A new day (or a counter that
  // went backwards: meter reset) starts a new baseline.
  if (typeof reading.energy_kwh === 'number') {
    const day = localDay(ms);
    if (!s.dayStart || s.dayStart.day !== day || reading.energy_kwh < s.dayStart.kwh) {
      s.dayStart = { day, kwh: reading.energy_kwh, ms, exact: false };
    }
  }
  if (s.key === selected) scheduleRender();
}

// ---- the first reading after local midnight from /api/readings, when the server offers it
async function loadDayStart() {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  // A short window first: the first reading of the day is all we need, not the whole day.
  const windows = [new Date(midnight.getTime() + 10 * 60 * 1000), new Date()];
  for (const until of windows) {
    try {
      const response = await fetch(`/api/readings?since=${encodeURIComponent(midnight.toISOString())}&until=${encodeURIComponent(until.toISOString())}`, { headers });
      if (!response.ok) return;   // not offered (404) or not allowed: history from the stream will do
      const readings = await response.json();
      if (!Array.isArray(readings)) return;
      let found = false;
      for (const r of readings) {
        const ms = Date.parse(r.timestamp);
        if (typeof r.energy_kwh !== 'number' || Number.isNaN(ms) || ms < midnight.getTime()) continue;
        const s = source(r);
        if (!s.dayStart?.exact || ms < s.dayStart.ms) s.dayStart = { day: localDay(ms), kwh: r.energy_kwh, ms, exact: true };
        found = true;
      }
      if (found) { scheduleRender(); return; }
    } catch {
      return;   // offline or not JSON: keep the stream-based figure
    }
  }
}

// ---- rendering
function formatPower(w) {
  const abs = Math.abs(w);
  return abs >= 1000 ? { value: (abs / 1000).toFixed(abs >= 10000 ? 1 : 2), unit: 'kW' } : { value: abs.toFixed(0), unit: 'W' };
}

const fixed = (v, digits) => (typeof v === 'number' ? v.toFixed(digits) : '–');
const timeOf = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

let pending = false;
function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

function render() {
  const s = sources.get(selected);
  if (!s || !s.latest) return;
  const r = s.latest;
  if (typeof r.power_w === 'number') {
    const p = formatPower(r.power_w);
    $('power').textContent = p.value;
    $('power').dataset.value = String(r.power_w);
    $('power-unit').textContent = p.unit;
    const direction = r.power_w < 0 ? 'export' : 'import';
    $('direction').dataset.direction = direction;
    $('direction').closest('.card').dataset.direction = direction;
    $('direction').textContent = r.power_w < 0 ? 'exporting to the grid' : 'importing from the grid';
  }
  $('voltage').textContent = fixed(r.voltage, 1);
  $('current').textContent = fixed(r.current, 2);
  if (s.dayStart && typeof r.energy_kwh === 'number' && s.dayStart.day === localDay(Date.parse(r.timestamp))) {
    $('today').textContent = (r.energy_kwh - s.dayStart.kwh).toFixed(2);
    $('today-note').textContent = s.dayStart.exact ? 'since midnight' : `since ${timeOf(s.dayStart.ms).slice(0, 5)} (first reading seen today)`;
  }
  $('updated').textContent = `last reading ${timeOf(Date.parse(r.timestamp))}`;
  drawChart(s);
}

// ---- chart (uPlot, served from /lib, restored from npm by the build)
let chart = null;

function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function createChart() {
  const el = $('chart');
  chart?.destroy();
  const axis = { stroke: css('--muted'), grid: { stroke: css('--grid'), width: 1 }, ticks: { stroke: css('--grid'), width: 1 } };
  chart = new uPlot({
    width: Math.max(el.clientWidth, 200),
    height: window.innerWidth < 720 ? 220 : 300,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // A fixed 15-minute window that slides with the newest reading.
      x: { time: true, range: (u, min, max) => { const end = max ?? Date.now() / 1000; return [end - WINDOW_SECONDS, end]; } },
      y: { range: (u, min, max) => [Math.min(0, min ?? 0), Math.max((max ?? 0) * 1.1, 100)] },
    },
    series: [
      {},
      { label: 'Power', stroke: css('--line'), fill: css('--fill'), width: 2, points: { show: false } },
    ],
    axes: [
      axis,
      { ...axis, size: 64, values: (u, values) => values.map((v) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)} kW` : `${v} W`)) },
    ],
  }, [[], []], el);
}

function drawChart(s) {
  if (typeof uPlot === 'undefined') return;   // library missing: numbers still work
  if (!chart) createChart();
  chart.setData([s.xs, s.ys]);
  $('chart').dataset.points = String(s.xs.length);
}

new ResizeObserver(() => {
  if (chart) chart.setSize({ width: Math.max($('chart').clientWidth, 200), height: window.innerWidth < 720 ? 220 : 300 });
}).observe($('chart'));

// Colours come from CSS variables; rebuild when the system switches light/dark.
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  if (!chart) return;
  createChart();
  const s = sources.get(selected);
  if (s) drawChart(s);
});

// ---- device/channel picker, shown once there is more than one
function updatePicker() {
  const select = $('source');
  const current = select.value;
  select.replaceChildren(...[...sources.values()].map((s) => new Option(s.label, s.key)));
  select.value = current || selected || '';
  $('picker').hidden = sources.size < 2;
}

$('source').addEventListener('change', (event) => {
  selected = event.target.value;
  scheduleRender();
});

// ---- connection state
const STATE_TEXT = {
  connecting: 'connecting',
  open: 'live',
  reconnecting: 'reconnecting',
  'token-expired': 'token expired',
  closed: 'closed',
};

const states = [];   // every transition, for debugging from the console and for the browser tests

function onStateChange(state) {
  states.push(state);
  $('status').dataset.state = state;
  $('status-text').textContent = STATE_TEXT[state] ?? state;
  if (state === 'open') {
    failures = 0;
    $('token-form').hidden = true;
  }
}

const client = new EnergyWsClient({
  url: '/ws',
  history: '15m',
  getToken,
  onReading,
  onStateChange,
  onError: (error) => console.warn('energy-ws:', error.message ?? error),
});

loadDayStart();

// For debugging from the console.
window.energyWs = { client, sources, states };
