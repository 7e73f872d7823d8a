/**
 * The pure rules of idempotent POSTs: which keys are valid, what identifies a request, which
 * answers are kept for replay and which of their headers come back with them.
 */

/** Printable ASCII, 1-255 characters (the header's value as sent). */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** How long a key is remembered (the maintenance run deletes older ones). */
export const KEY_TTL_HOURS = 24;
/**
 * A `running` key older than this belongs to a request whose isolate died: a retry may take it
 * over. It outlasts the longest wait inside an admin request, a `POST …/provision` through
 * Neon's operations (bounded by the provisioning claim, STALE_CLAIM_SECONDS = 10 minutes), so a
 * live request is never taken over; even then its late answer cannot finish the retry's claim
 * (claim ids, store.ts).
 */
export const RUNNING_STALE_SECONDS = 900;
/** The largest response body kept for replay (bytes); a larger answer is not replayable. */
export const MAX_STORED_BODY_BYTES = 256 * 1024;
/** Headers a replay repeats; the rest (X-Request-Id, timings) belong to the new request. */
export const REPLAYED_HEADERS = ['content-type', 'location', 'etag'] as const;

/** True when `key` is a valid Idempotency-Key. */
export const validKey = (key: string): boolean => KEY.test(key);

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');

/** sha256 over method, path (with its query) and body: what "the same request" means. */
export async function requestHash(method: string, path: string, body: ArrayBuffer): Promise<string> {
  const head = new TextEncoder().encode(`${method.toUpperCase()}\n${path}\n`);
  const all = new Uint8Array(head.length + body.byteLength);
  all.set(head);
  all.set(new Uint8Array(body), head.length);
  return hex(await crypto.subtle.digest('SHA-256', all));
}

/**
 * Whether an answer is kept for replay. A 5xx, or any answer with `Retry-After` (409
 * PROVISIONING_IN_PROGRESS, 503s), says "try again": the retry must run again, not replay it.
 */
export function keepsAnswer(status: number, headers: Headers, bodyBytes: number): boolean {
  if (status >= 500 || headers.has('retry-after')) return false;
  return bodyBytes <= MAX_STORED_BODY_BYTES;
}

/** The headers of `headers` a replay repeats. */
export function replayedHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const v = headers.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}
