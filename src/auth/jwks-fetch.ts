/**
 * One bounded JWKS download: a deadline for the whole exchange, no redirects, and a size cap
 * enforced while the body streams in, so a hostile or broken IdP cannot make the router buffer
 * megabytes or wait forever. Every failure is a `JwksFetchError` whose message names no secret.
 */
import type { JSONWebKeySet } from 'jose';

export type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

export interface JwksFetchOptions {
  fetch: Fetcher;
  /** Deadline for connecting, the headers and the body together. */
  timeoutMs: number;
  /** Largest accepted body, in bytes. */
  maxBytes: number;
}

/** Why a JWKS could not be had (for logs; callers answer 503 without it). */
export class JwksFetchError extends Error {
  override name = 'JwksFetchError';
}

/** Downloads and parses the key set at `url`; throws `JwksFetchError` on any failure. */
export async function fetchJwks(url: URL, opts: JwksFetchOptions): Promise<JSONWebKeySet> {
  let res: Response;
  try {
    res = await opts.fetch(url.href, {
      headers: { accept: 'application/json' },
      // A redirect could lead to plain http or anywhere else the URL check never saw.
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    throw new JwksFetchError(isTimeout(err) ? 'timed out' : 'unreachable');
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new JwksFetchError(`answered ${res.status}`);
  }
  const text = await readCapped(res, opts.maxBytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new JwksFetchError('not JSON');
  }
  if (!body || typeof body !== 'object' || !Array.isArray((body as { keys?: unknown }).keys)) throw new JwksFetchError('not a key set');
  return body as JSONWebKeySet;
}

/** The body as text, reading chunk by chunk and giving up as soon as it passes `maxBytes`. */
export async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new JwksFetchError(`larger than ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new JwksFetchError(`larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof JwksFetchError) throw err;
    throw new JwksFetchError(isTimeout(err) ? 'timed out' : 'body unreadable');
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.byteLength; }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(all);
  } catch {
    throw new JwksFetchError('not UTF-8');
  }
}

const isTimeout = (err: unknown) => err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
