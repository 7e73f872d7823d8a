/**
 * Which dedicated origins a tenant may have, pure: the router fetches whatever a tenant's record
 * names, so a tenant-supplied URL must not point it at the platform's own network. Accepted:
 *   - `https://HOST` (optionally with a path) where HOST is a public hostname: a registrable name
 *     under an ICANN public suffix (tldts), not an IP literal, not a single label, not `localhost`
 *     or a reserved or private-use name (`.local`, `.internal`, `.test`, `.home.arpa`, …, which
 *     are not ICANN suffixes), no credentials, query or fragment, and only the default port;
 *   - `service:NAME` where NAME is a service binding that ORIGINS already uses for a region of the
 *     tenant's region's jurisdiction (a binding is the operator's, never a tenant's, choice).
 * Loopback (`http://127.0.0.1:PORT`, `http://localhost:PORT`) only where the configuration says so
 * (PROXY_ORIGIN_LOOPBACK=true: the local stack and its tests, like CLOUDFLARE_API_URL's stand-in).
 * A public name that resolves to a private address is not caught here: Workers' fetch does not
 * reach private networks (docs/proxy.md).
 */
import { parse } from 'tldts';
import { jurisdictionOf } from '../regions.js';
import { parseTarget, type OriginTarget } from './config.js';

export interface OriginPolicy {
  /** http://127.0.0.1 / localhost allowed (local stack only). */
  allowLoopback: boolean;
  /** region → origin (ORIGINS): which service bindings serve which jurisdiction; absent: none. */
  origins?: Readonly<Record<string, OriginTarget>>;
}

export type Refusal = { code: 'ORIGIN_NOT_ALLOWED' | 'ORIGIN_SERVICE_UNKNOWN'; message: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The target of dedicated origin `url` for a tenant of `tenantRegion`, or why it is refused. */
export function checkDedicatedOrigin(url: string, tenantRegion: string, policy: OriginPolicy): OriginTarget | Refusal {
  const t = parseTarget(url);
  if (typeof t === 'string') return { code: 'ORIGIN_NOT_ALLOWED', message: `proxy origin ${t}` };
  if (t.kind === 'service') {
    const home = jurisdictionOf(tenantRegion);
    const serves = Object.entries(policy.origins ?? {})
      .some(([r, o]) => o.kind === 'service' && o.binding === t.binding && home !== null && jurisdictionOf(r) === home);
    return serves ? t : { code: 'ORIGIN_SERVICE_UNKNOWN', message: `service:${t.binding} is not an origin of ORIGINS in the ${home ?? 'unknown'} jurisdiction of region ${tenantRegion.slice(0, 64)}` };
  }
  const u = new URL(url);
  const no = (why: string): Refusal => ({ code: 'ORIGIN_NOT_ALLOWED', message: `proxy origin ${why}` });
  if (policy.allowLoopback && LOOPBACK.has(u.hostname) && (u.protocol === 'http:' || u.protocol === 'https:')) return t;
  if (u.protocol !== 'https:') return no('must be an https URL');
  if (u.port !== '') return no('must use the default https port');
  const host = u.hostname.toLowerCase();
  const p = parse(host, { allowPrivateDomains: false });
  if (p.isIp || host.startsWith('[')) return no('must be a hostname, not an IP address');
  if (!host.includes('.') || host === 'localhost' || host.endsWith('.localhost')) return no('must be a public hostname');
  if (!p.isIcann || !p.domain || !p.publicSuffix || host === p.publicSuffix || p.publicSuffix === 'arpa' || p.publicSuffix.endsWith('.arpa')) {
    return no('must be a public hostname (a registrable name under a public suffix)');
  }
  return t;
}

/** Whether `r` is a refusal. */
export const isRefusal = (r: OriginTarget | Refusal): r is Refusal => 'code' in r;
