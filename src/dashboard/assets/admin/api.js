// The admin API client: same origin, the token from sessionStorage, every call bounded in time.
const KEY = 'tenant-router.admin-token';
const TIMEOUT_MS = 15000;

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An API failure: HTTP status and the error shape's code and message. */
export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

/** Calls /admin/v1{path}; resolves with { status, body, headers }; rejects with ApiError on non-2xx. */
export async function api(path, { method = 'GET', body, headers = {}, bearer } = {}) {
  // A sign-in attempt passes its own bearer: its 401 is the form's to show, not a lost session.
  const stored = bearer === undefined;
  if (stored) bearer = token.get();
  const h = { accept: 'application/json', ...headers };
  if (bearer) h.authorization = `Bearer ${bearer}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  if (method === 'POST' && !h['idempotency-key']) h['idempotency-key'] = crypto.randomUUID();
  let res;
  try {
    res = await fetch(`/admin/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS), credentials: 'omit', cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the control plane did not answer (${err.name === 'TimeoutError' ? 'timeout' : 'network error'})`);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const e = data && data.error;
    if (res.status === 401 && stored) window.dispatchEvent(new CustomEvent('unauthenticated'));
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? `HTTP ${res.status}`);
  }
  return { status: res.status, body: data, headers: res.headers };
}

/** GET /readyz (no credentials: the control plane's readiness). */
export async function readyz() {
  try {
    const res = await fetch('/readyz', { signal: AbortSignal.timeout(TIMEOUT_MS), credentials: 'omit', cache: 'no-store' });
    return { status: res.status, body: await res.json() };
  } catch (err) {
    return { status: 0, body: null, error: String(err) };
  }
}

/** Every tenant, following cursors (at most `max`). */
export async function allTenants(max = 5000) {
  const out = [];
  let cursor = null;
  do {
    const q = new URLSearchParams({ limit: '500', ...(cursor ? { cursor } : {}) });
    const { body } = await api(`/tenants?${q}`);
    out.push(...body.tenants);
    cursor = body.nextCursor;
  } while (cursor && out.length < max);
  return out;
}
