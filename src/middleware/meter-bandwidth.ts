import { createMiddleware } from 'hono/factory';
import { countingStream, declaredLength } from '../bandwidth/counting-stream.js';
import { knownLength, sizeBodies } from '../bandwidth/sized-bodies.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';
import type { BodyVars } from './request-body-limit.js';

/**
 * Meters the body bytes of an admitted request and of the response the router sends, in the
 * tenant's TenantGuard (bandwidth, exact like the request units: src/quota/byte-meter.ts). A
 * response with a Content-Length is counted by it, at once (the release of the request's slot
 * carries the report), and so is one made from a string or bytes by `c.json`, `c.text` or `c.body`
 * (their lengths are noted as they are made: src/bandwidth/sized-bodies.ts); any other body is
 * counted as it streams out, and reported when it ends or the client goes away. A chunked request body is counted as it is read: bytes still streaming
 * when the response is reported (a proxied upload the origin answered early) are reported when the
 * read ends, so the total is exactly the bytes read from the client. After the quota step: a
 * refused request is not metered.
 */
export const meterBandwidth = () =>
  createMiddleware<{ Variables: ServicesVars & TenantVars & Partial<BodyVars> }>(async function meterBandwidth(c, next) {
    const services = c.get('services');
    const limiter = services.limiter;
    if (!limiter.meter) return next();
    sizeBodies(c);
    await next();
    const tenant = c.get('tenant');
    const send = (bytes: { request: number; response: number }) => {
      const sent = limiter.meter!(tenant, bytes);
      if (!sent) return;
      const quiet = sent.catch(() => {});
      // From a stream's end the request may be over already (a caller that waited for it first).
      try { c.executionCtx.waitUntil(quiet); } catch { /* runs on its own */ }
    };
    const report = (response: number) => {
      const request = c.get('requestBytes')?.() ?? 0;
      send({ request, response });
      // Counters add up: the rest of an upload still being read goes in a report of its own.
      c.get('onRequestEnd')?.((final) => { if (final > request) send({ request: final - request, response: 0 }); });
    };
    const res = c.res;
    if (c.req.method === 'HEAD' || !res.body || res.status === 101 || res.webSocket) { report(0); return; }
    const declared = knownLength(res) ?? declaredLength(res.headers.get('content-length'));
    if (declared !== null) { report(declared); return; }
    // Reported from the stream's end, not awaited by a waitUntil of its own: whoever waits for
    // the request's background work before reading the body would otherwise wait forever.
    c.res = new Response(countingStream(res.body, { onEnd: report }).stream, res);
  });
