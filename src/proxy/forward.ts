/**
 * One request to an origin, streamed both ways: the client's body is handed to the origin as it
 * arrives and the origin's body to the client as it arrives; nothing is buffered. The timeout
 * covers the wait for the origin's response headers only (a 20 MB download may take longer than
 * any sensible time to first byte), counted from the end of the client's upload: a slow client is
 * not a slow origin. A client whose body fails (cut off, or over the tier's body limit) is the
 * client's failure, reported apart (`client`) so that it never counts against the origin's breaker.
 */
import type { SendFn } from './services.js';

export type Forwarded =
  | { ok: true; response: Response }
  | { ok: false; reason: 'timeout' | 'unreachable'; error: string }
  | { ok: false; reason: 'client'; error: string; cause: unknown };

/** Sends `req` with `send`, giving up when no response headers came within `timeoutMs` of the upload's end. */
export async function forward(send: SendFn, url: string, req: { method: string; headers: Headers; body: ReadableStream | null }, timeoutMs: number): Promise<Forwarded> {
  const abort = new AbortController();
  const hasBody = req.body !== null && req.method !== 'GET' && req.method !== 'HEAD';
  let uploading = hasBody;
  let clientFailure: { error: unknown } | null = null;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      // Still receiving the client's body: the origin cannot be expected to have answered yet.
      if (uploading && !clientFailure) { arm(); return; }
      timedOut = true;
      abort.abort();
    }, timeoutMs);
  };
  let body: ReadableStream | null = null;
  if (hasBody) {
    // Pulled chunk by chunk: only a failure to read the client's body is the client's; the origin
    // side going away cancels this stream instead.
    const reader = req.body!.getReader();
    body = new ReadableStream<Uint8Array>({
      async pull(out) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          uploading = false;
          clientFailure = { error };
          out.error(error);
          abort.abort();
          return;
        }
        if (chunk.done) { uploading = false; arm(); out.close(); } else out.enqueue(chunk.value);
      },
      cancel(reason) { uploading = false; return reader.cancel(reason); },
    });
  }
  arm();
  try {
    const response = await send(new Request(url, {
      method: req.method, headers: req.headers, body, redirect: 'manual', signal: abort.signal,
    }));
    return { ok: true, response };
  } catch (err) {
    const failure = clientFailure as { error: unknown } | null;
    if (failure) return { ok: false, reason: 'client', error: String((failure.error as Error)?.message ?? failure.error).slice(0, 200), cause: failure.error };
    return { ok: false, reason: timedOut ? 'timeout' : 'unreachable', error: String((err as Error)?.message ?? err).slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}
