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
const NEVER_FORWARDED = new Set(['authorization', 'host', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
  // Client-set claims about the client or the URL that origins and their frameworks may trust.
  'x-real-ip', 'true-client-ip', 'x-forwarded-port', 'x-forwarded-prefix', 'x-original-url', 'x-rewrite-url']);

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

/**
 * The headers sent to the origin, before the router adds its own. A name with `_` never crosses:
 * nginx and CGI map `X_Tenant` and `X-Tenant` to the same variable, so an underscore spelling
 * would slip past the `X-Tenant*` and forwarding-header filters.
 */
export const requestHeaders = (inbound: Headers): Headers => filtered(inbound, (n) => n.includes('_') || tenantHeader(n) || NEVER_FORWARDED.has(n));

/**
 * A Set-Cookie whose Domain attribute is wider than `host` (a parent domain, such as the base
 * domain every tenant subdomain shares) loses that attribute: the cookie becomes host-only, so a
 * tenant's origin can neither plant cookies on other tenants' hosts nor read theirs back. The
 * cookie itself is kept (the origin's session keeps working on its own host).
 */
export function scopeCookie(cookie: string, host: string): string {
  const h = host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const parts = cookie.split(';');
  const kept = parts.filter((part, i) => {
    if (i === 0) return true;
    const m = /^\s*domain\s*=\s*(.*)$/i.exec(part);
    if (!m) return true;
    const d = m[1]!.trim().toLowerCase().replace(/^\./, '').replace(/\.$/, '');
    return d === h;
  });
  return kept.join(';');
}

/** The origin's response headers the client gets (the router sets `X-Tenant*` itself), cookies scoped to `host`. */
export function responseHeaders(upstream: Headers, host: string): Headers {
  const out = filtered(upstream, (n) => tenantHeader(n) || n === 'set-cookie');
  const listed = new Set((upstream.get('connection') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  if (!listed.has('set-cookie')) for (const c of (upstream as Headers & { getSetCookie(): string[] }).getSetCookie()) out.append('set-cookie', scopeCookie(c, host));
  return out;
}

/**
 * Why a proxied request path is refused, or null. An encoded `/` or `\\` (`%2F`, `%5C`) or a dot
 * segment that appears only after decoding (`%2e%2e`) means one thing to the router's prefix match
 * and another to an origin or framework that decodes first: a way out of the proxied prefix.
 */
export function badPath(rawPath: string): string | null {
  if (/%(2f|5c)/i.test(rawPath)) return 'encoded / or \\ in the path';
  for (const seg of rawPath.split('/')) {
    let d: string;
    try { d = decodeURIComponent(seg); } catch { return 'malformed percent-encoding in the path'; }
    if (d === '.' || d === '..') return 'dot segment in the path';
  }
  return null;
}
