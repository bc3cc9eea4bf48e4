// The console talks to the public API like any client: Authorization:
// Bearer <JWT> and X-Client-Id on every call. Sign-in is Supabase Auth's
// REST API (the calls supabase-js makes) or, in `zapbase dev`, the link the
// terminal prints (#token=…). Tokens live in sessionStorage: they end with
// the tab and never travel in URLs to the server.

const store = window.sessionStorage;
const KEY = 'zapbase.console.auth';
const TENANT = 'zapbase.console.tenant';

export const state = {
  config: { dev: false },
  auth: null, // { accessToken, refreshToken, expiresAt, email }
  clientId: store.getItem(TENANT) || '',
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.detail)) || `Erro ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.errors = (body && body.errors) || [];
  }
}

export async function loadConfig() {
  const res = await fetch('/console/config.json', { cache: 'no-store' });
  state.config = await res.json();
}

export function loadAuth() {
  // #token=<jwt> (the dev link): take it, then drop it from the address bar.
  const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (m) {
    const token = decodeURIComponent(m[1]);
    setAuth({ accessToken: token, refreshToken: '', expiresAt: jwtExp(token), email: jwtClaim(token, 'email') });
    history.replaceState(null, '', location.pathname + location.search + '#/sessoes');
    return;
  }
  try {
    state.auth = JSON.parse(store.getItem(KEY) || 'null');
  } catch {
    state.auth = null;
  }
}

function setAuth(a) {
  state.auth = a;
  if (a) store.setItem(KEY, JSON.stringify(a));
  else store.removeItem(KEY);
}

export function setTenant(clientId) {
  state.clientId = clientId;
  store.setItem(TENANT, clientId);
}

function jwtPayload(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return {};
  }
}
function jwtExp(token) { const p = jwtPayload(token); return p.exp ? p.exp * 1000 : 0; }
function jwtClaim(token, k) { return jwtPayload(token)[k] || ''; }

// Supabase Auth (GoTrue) REST: the same calls supabase-js makes.
async function authCall(path, body, token) {
  const { supabaseUrl, publishableKey } = state.config;
  const headers = { apikey: publishableKey, 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${supabaseUrl}/auth/v1/${path}`, { method: 'POST', headers, body: JSON.stringify(body || {}) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const msg = data.error_description || data.msg || data.message || '';
    const err = new Error(res.status === 400 && /invalid/i.test(msg) ? 'E-mail ou senha incorretos.' : `Não foi possível entrar (${res.status}). ${msg}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function sessionFrom(data) {
  return {
    accessToken: data.access_token,
    refreshToken: data.refresh_token || '',
    expiresAt: data.expires_at ? data.expires_at * 1000 : Date.now() + (data.expires_in || 3600) * 1000,
    email: (data.user && data.user.email) || jwtClaim(data.access_token, 'email'),
  };
}

export async function signIn(email, password) {
  setAuth(sessionFrom(await authCall('token?grant_type=password', { email, password })));
}

let refreshing = null;
async function refresh() {
  if (!state.auth || !state.auth.refreshToken || !state.config.supabaseUrl) return false;
  refreshing = refreshing || authCall('token?grant_type=refresh_token', { refresh_token: state.auth.refreshToken })
    .then((d) => { setAuth(sessionFrom(d)); return true; })
    .catch(() => false)
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function freshToken() {
  const a = state.auth;
  if (!a) return '';
  if (a.expiresAt && a.expiresAt - Date.now() < 60_000) await refresh();
  return state.auth ? state.auth.accessToken : '';
}

export async function signOut() {
  const a = state.auth;
  setAuth(null);
  stopStream();
  if (a && a.refreshToken && state.config.supabaseUrl) {
    try { await authCall('logout', {}, a.accessToken); } catch { /* the local session is gone anyway */ }
  }
}

export const onSignedOut = new EventTarget();

async function headers(extra = {}, withTenant = true) {
  const h = { Authorization: `Bearer ${await freshToken()}`, ...extra };
  if (withTenant && state.clientId) h['X-Client-Id'] = state.clientId;
  return h;
}

// request calls the API and returns its JSON (or a Blob with raw).
export async function request(method, path, body, opts = {}) {
  const extra = {};
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { extra['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(`/api/v1${path}`, { method, headers: await headers(extra, opts.tenant !== false), body: payload });
  if (res.status === 401 && state.auth) {
    if (await refresh()) return request(method, path, body, opts);
    setAuth(null);
    onSignedOut.dispatchEvent(new Event('signedout'));
  }
  // The console shares the tenant's rate limit with its backends: wait out
  // a short Retry-After once instead of failing.
  const retry = Number(res.headers.get('Retry-After'));
  if (res.status === 429 && !opts.retried && retry > 0 && retry <= 10) {
    await new Promise((r) => setTimeout(r, retry * 1000));
    return request(method, path, body, { ...opts, retried: true });
  }
  if (!res.ok) {
    throw new ApiError(res.status, await res.json().catch(() => null));
  }
  if (opts.raw) return res.blob();
  if (res.status === 204) return null;
  return res.json();
}

export const get = (p, o) => request('GET', p, undefined, o);
export const post = (p, b) => request('POST', p, b);
export const put = (p, b) => request('PUT', p, b);
export const del = (p) => request('DELETE', p);

// Live updates: GET /events read with fetch (EventSource cannot send the
// Authorization header), reconnecting with Last-Event-ID after a drop.
export const events = new EventTarget();
let streamCtl = null;
let lastEventId = '';

export function startStream() {
  stopStream();
  lastEventId = '';
  const ctl = new AbortController();
  streamCtl = ctl;
  run(ctl.signal);
}

export function stopStream() {
  if (streamCtl) streamCtl.abort();
  streamCtl = null;
}

function status(s) { events.dispatchEvent(new CustomEvent('status', { detail: s })); }

async function run(signal) {
  let delay = 1000;
  while (!signal.aborted) {
    try {
      const h = await headers({ Accept: 'text/event-stream' });
      if (lastEventId) h['Last-Event-ID'] = lastEventId;
      const res = await fetch('/api/v1/events', { headers: h, signal, cache: 'no-store' });
      if (res.status === 401) {
        if (await refresh()) continue;
        setAuth(null);
        onSignedOut.dispatchEvent(new Event('signedout'));
        return;
      }
      if (!res.ok || !res.body) throw new Error(`events ${res.status}`);
      await readStream(res.body, signal, () => { delay = 1000; status('live'); });
    } catch (e) {
      if (signal.aborted) return;
    }
    status('reconnecting');
    const wait = delay + Math.random() * 500;
    delay = Math.min(delay * 2, 30_000);
    await new Promise((r) => setTimeout(r, wait));
  }
}

async function readStream(body, signal, onOpen) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = { id: '', event: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const k = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (k === 'id') ev.id = v;
        else if (k === 'event') ev.event = v;
        else if (k === 'data') ev.data += (ev.data ? '\n' : '') + v;
      }
      if (ev.id) lastEventId = ev.id;
      if (ev.event === 'ready') { onOpen(); events.dispatchEvent(new CustomEvent('ready')); continue; }
      if (ev.event === 'reset') { events.dispatchEvent(new CustomEvent('ready')); continue; }
      if (!ev.data) continue;
      let data;
      try { data = JSON.parse(ev.data); } catch { continue; }
      events.dispatchEvent(new CustomEvent('change', { detail: data }));
    }
  }
}
