/**
 * Which headers cross the proxy. Hop-by-hop headers (RFC 9110 §7.6.1: Connection and the ones it
 * lists, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) belong to one connection
 * and never cross. Inbound `X-Tenant*` headers never reach the origin: the tenant is what the
 * signed context says, not what a client wrote. The caller's Authorization is dropped too: the
 * router verified it, the context carries the result (tenant, subject), and an origin that never
 * sees the token cannot leak or replay it. Forwarding headers are the router's own, never the
 * client's (`X-Forwarded-*`, `Forwarded` from a client are spoofable).
 */

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const NEVER_FORWARDED = new Set(['authorization', 'host', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);

/** `h` without hop-by-hop headers, those its Connection header names, and those `drop` refuses. */
function filtered(h: Headers, drop: (name: string) => boolean): Headers {
  const listed = new Set((h.get('connection') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  const out = new Headers();
  for (const [name, value] of h) {
    const n = name.toLowerCase();
    if (HOP_BY_HOP.has(n) || n.startsWith('proxy-') || listed.has(n) || drop(n)) continue;
    out.append(name, value);
  }
  return out;
}

const tenantHeader = (n: string) => n.startsWith('x-tenant');

/** The headers sent to the origin, before the router adds its own. */
export const requestHeaders = (inbound: Headers): Headers => filtered(inbound, (n) => tenantHeader(n) || NEVER_FORWARDED.has(n));

/** The origin's response headers the client gets (the router sets `X-Tenant*` itself). */
export const responseHeaders = (upstream: Headers): Headers => filtered(upstream, tenantHeader);
