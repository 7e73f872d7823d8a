import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import type { Identity } from '../auth/token-verifier.js';
import { opaqueRefusals, tokenRefused } from '../auth/opaque-refusal.js';
import { classifyHost, normalizeHost } from '../tenancy/host.js';
import type { LookupKey, Tenant } from '../tenancy/tenant.js';
import type { RequestContextVars } from './request-context.js';
import type { ServicesVars } from './services.js';
import type { ObserveVars } from './observe.js';

/** `onApiHost`: the tenant came from the token, so token refusals must stay uniform (authenticate reads it). */
export interface TenantVars {
  tenant: Tenant; host: string; bearer: string | null; onApiHost: boolean; identity?: Identity;
  /** The key the tenant was found by (what to drop from L1 when its record turns out stale). */
  lookupKey?: LookupKey;
}

/** The bearer token of a request, or null. */
export function bearerToken(header: string | undefined): string | null {
  const m = header ? /^Bearer[ ]+([^\s]+)\s*$/i.exec(header) : null;
  return m ? m[1]! : null;
}

const noTenant = () => new AppError(404, 'TENANT_NOT_FOUND', 'no tenant on this host');

/**
 * Resolves the tenant from the Host header (a subdomain of a base domain, or a registered custom
 * domain), or on the shared API host from the token. `X-Forwarded-Host` is never read: behind
 * Cloudflare the Host header is what the client asked for, and anything else is spoofable.
 * Nothing about the tenant goes into the response here: not its name, region or status. The
 * caller is not authenticated yet; authenticate() names the tenant once it is.
 */
export const resolveTenant = () =>
  createMiddleware<{ Variables: RequestContextVars & ServicesVars & TenantVars & Partial<ObserveVars> }>(async function resolveTenant(c, next) {
    const { directory, verifier, config } = c.get('services');
    const host = normalizeHost(c.req.header('host'));
    if (!host) throw new AppError(400, 'INVALID_HOST', 'Host header is not a valid hostname');
    const cls = classifyHost(host, config.baseDomains);
    const bearer = bearerToken(c.req.header('authorization'));
    const defer = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);

    let key: LookupKey;
    let identity: Identity | undefined;
    if (cls.kind === 'apex' || cls.kind === 'unknown') throw noTenant();
    if (cls.kind === 'api') {
      if (!bearer) throw new AppError(401, 'UNAUTHENTICATED', 'a bearer token is required on the API host', { 'WWW-Authenticate': 'Bearer' });
      ({ key, identity } = await opaqueRefusals(verifier.lookupKeyOf(bearer)));
    } else {
      key = cls.kind === 'subdomain' ? { kind: 'slug', value: cls.slug } : { kind: 'domain', value: cls.host };
    }

    const record = c.get('record');
    const tenant = await directory.resolve(key, defer, (level) => { if (record) record.cache = level; });
    if (!tenant) {
      // An unknown issuer is refused exactly like a known one with a bad signature. (A platform
      // token naming an unknown id is genuine: its holder may learn that the id names no tenant.)
      if (key.kind === 'issuer') throw tokenRefused();
      throw noTenant();
    }
    c.set('tenant', tenant);
    c.set('lookupKey', key);
    c.set('host', host);
    c.set('bearer', bearer);
    c.set('onApiHost', cls.kind === 'api');
    if (identity) c.set('identity', identity);
    await next();
  });
