import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import type { Identity } from '../auth/token-verifier.js';
import { classifyHost, normalizeHost } from '../tenancy/host.js';
import type { LookupKey, Tenant } from '../tenancy/tenant.js';
import type { RequestContextVars } from './request-context.js';
import type { ServicesVars } from './services.js';

export interface TenantVars { tenant: Tenant; host: string; bearer: string | null; identity?: Identity }

/** The bearer token of a request, or null. */
export function bearerToken(header: string | undefined): string | null {
  const m = header ? /^Bearer[ ]+([^\s]+)\s*$/i.exec(header) : null;
  return m ? m[1]! : null;
}

/**
 * Resolves the tenant from the Host header (a subdomain of a base domain, or a registered custom
 * domain), or on the shared API host from the token. `X-Forwarded-Host` is never read: behind
 * Cloudflare the Host header is what the client asked for, and anything else is spoofable.
 */
export const resolveTenant = () =>
  createMiddleware<{ Variables: RequestContextVars & ServicesVars & TenantVars }>(async function resolveTenant(c, next) {
    const { directory, verifier, config } = c.var.services;
    const host = normalizeHost(c.req.header('host'));
    if (!host) throw new AppError(400, 'INVALID_HOST', 'Host header is not a valid hostname');
    const cls = classifyHost(host, config.baseDomains);
    const bearer = bearerToken(c.req.header('authorization'));
    const defer = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);

    let key: LookupKey;
    let identity: Identity | undefined;
    if (cls.kind === 'apex') throw new AppError(404, 'TENANT_NOT_FOUND', 'no tenant on this host');
    if (cls.kind === 'api') {
      if (!bearer) throw new AppError(401, 'UNAUTHENTICATED', 'a bearer token is required on the API host', { 'WWW-Authenticate': 'Bearer' });
      ({ key, identity } = await verifier.lookupKeyOf(bearer));
    } else {
      key = cls.kind === 'subdomain' ? { kind: 'slug', value: cls.slug } : { kind: 'domain', value: cls.host };
    }

    const tenant = await directory.resolve(key, defer);
    if (!tenant) {
      // On the API host an unknown issuer is a bad token, not a probe for tenant names.
      if (key.kind === 'issuer') throw new AppError(401, 'INVALID_TOKEN', 'token issuer is not trusted');
      throw new AppError(404, 'TENANT_NOT_FOUND', 'no tenant on this host');
    }
    c.header('X-Tenant', tenant.slug);
    c.header('X-Tenant-Region', tenant.region);
    if (tenant.status === 'suspended') throw new AppError(503, 'TENANT_SUSPENDED', 'tenant is suspended', { 'Retry-After': '3600' });
    if (tenant.status === 'migrating' || tenant.status === 'provisioning') {
      throw new AppError(503, 'TENANT_MIGRATING', 'tenant storage is being prepared', { 'Retry-After': '30' });
    }
    c.set('tenant', tenant);
    c.set('host', host);
    c.set('bearer', bearer);
    if (identity) c.set('identity', identity);
    await next();
  });
