import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import { countingStream, declaredLength } from '../bandwidth/counting-stream.js';
import type { TenantVars } from './resolve-tenant.js';

/** The request's body bytes (declared, or read so far for a chunked body): for bandwidth metering. */
export interface BodyVars {
  requestBytes: () => number;
  /**
   * For a counted (chunked) body still being read: calls `f` with its final byte count when the
   * read ends (done, cancelled or failed) and returns true; false when it has ended already.
   */
  onRequestEnd?: (f: (bytes: number) => void) => boolean;
}

/**
 * The tier's request-body limit (`max_body_bytes`, `tenant.limits.maxBodyBytes`): a declared
 * Content-Length over it is refused 413 PAYLOAD_TOO_LARGE before any work (before the quota
 * step: nothing is metered); a body without one (chunked) is counted as it is read and the read
 * fails with the same 413 once it passes the limit. Nothing is buffered.
 */
export const requestBodyLimit = () =>
  createMiddleware<{ Variables: TenantVars & BodyVars }>(async function requestBodyLimit(c, next) {
    const max = c.get('tenant').limits.maxBodyBytes;
    const raw = c.req.raw;
    const tooLarge = () => new AppError(413, 'PAYLOAD_TOO_LARGE', `request body over this tenant's limit of ${max} bytes`);
    if (!raw.body) {
      c.set('requestBytes', () => 0);
      return next();
    }
    const header = raw.headers.get('content-length');
    if (header !== null && !raw.headers.has('transfer-encoding')) {
      const declared = declaredLength(header);
      if (declared === null) throw new AppError(400, 'BAD_REQUEST', 'Content-Length is not a number of bytes');
      if (declared > max) throw tooLarge();
      c.set('requestBytes', () => declared);
      return next();
    }
    let ended = false;
    const waiting: ((bytes: number) => void)[] = [];
    const counted = countingStream(raw.body, { limit: max, tooLarge, onEnd: (n) => { ended = true; for (const f of waiting.splice(0)) f(n); } });
    c.set('onRequestEnd', (f) => { if (ended) return false; waiting.push(f); return true; });
    // The abort signal goes along: the quota step releases a hung-up request's slot by it.
    c.req.raw = new Request(raw, { body: counted.stream, signal: raw.signal });
    c.set('requestBytes', counted.bytes);
    await next();
  });
