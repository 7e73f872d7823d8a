/**
 * Webhook signing (Standard Webhooks, https://www.standardwebhooks.com) and the retry schedule.
 * A delivery carries `webhook-id` (the same on every attempt), `webhook-timestamp` (seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the
 * base64-decoded part of ALERT_WEBHOOK_SECRET after `whsec_`. docs/alerts.md shows a receiver's check.
 */

/** The first retry waits this long; every later one twice the previous, at most BACKOFF_CAP_S. */
export const BACKOFF_BASE_S = 30;
export const BACKOFF_CAP_S = 3600;
/** After this many failed attempts a delivery is given up (about 4 h 15 min after the first). */
export const MAX_ATTEMPTS = 10;

/** Seconds to wait after failed attempt number `attempts` (1 = the first failure). */
export const backoffSeconds = (attempts: number): number =>
  Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** Math.max(0, attempts - 1));

const SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** The key bytes of a `whsec_<base64>` secret; null when it is not one (or shorter than 24 bytes). */
export function secretKey(secret: string): Uint8Array | null {
  const m = SECRET.exec(secret);
  if (!m) return null;
  let raw: string;
  try { raw = atob(m[1]!); } catch { return null; }
  if (raw.length < 24 || raw.length > 64) return null;
  return Uint8Array.from(raw, (ch) => ch.charCodeAt(0));
}

const base64 = (bytes: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(bytes)));

/** The three Standard Webhooks headers for `body` sent as message `id` at `timestampS`. */
export async function signedHeaders(key: Uint8Array, id: string, timestampS: number, body: string): Promise<Record<string, string>> {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', k, new TextEncoder().encode(`${id}.${timestampS}.${body}`));
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampS), 'webhook-signature': `v1,${base64(mac)}` };
}

export interface SendResult { ok: boolean; status: number | null; error: string | null }

/**
 * POSTs `body` to `url`, signed, within `timeoutMs`; never follows a redirect (a 3xx is a
 * failure: the receiver's URL is configured, not discovered). Never throws.
 */
export async function send(url: string, key: Uint8Array, id: string, timestampS: number, body: string, timeoutMs: number, fetcher: typeof fetch = fetch): Promise<SendResult> {
  try {
    const headers = { 'content-type': 'application/json', 'user-agent': 'tenant-router-alerts/1', ...(await signedHeaders(key, id, timestampS, body)) };
    const res = await fetcher(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => {});
    return res.status >= 200 && res.status < 300 ? { ok: true, status: res.status, error: null } : { ok: false, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error;
    return { ok: false, status: null, error: (e?.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : String(e?.message ?? err)).slice(0, 300) };
  }
}
