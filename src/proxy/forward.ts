/**
 * One request to an origin, streamed both ways: the client's body is handed to the origin as it
 * arrives and the origin's body to the client as it arrives; nothing is buffered. The timeout
 * covers the wait for the origin's response headers only (a 20 MB download may take longer than
 * any sensible time to first byte); once they are in, the timer is cleared.
 */
import type { SendFn } from './services.js';

export type Forwarded = { ok: true; response: Response } | { ok: false; reason: 'timeout' | 'unreachable'; error: string };

/** Sends `req` with `send`, giving up when no response headers came within `timeoutMs`. */
export async function forward(send: SendFn, url: string, req: { method: string; headers: Headers; body: ReadableStream | null }, timeoutMs: number): Promise<Forwarded> {
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; abort.abort(); }, timeoutMs);
  try {
    const hasBody = req.body !== null && req.method !== 'GET' && req.method !== 'HEAD';
    const response = await send(new Request(url, {
      method: req.method, headers: req.headers, body: hasBody ? req.body : null, redirect: 'manual', signal: abort.signal,
    }));
    return { ok: true, response };
  } catch (err) {
    return { ok: false, reason: timedOut ? 'timeout' : 'unreachable', error: String((err as Error)?.message ?? err).slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}
