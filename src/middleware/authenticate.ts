import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import type { Identity } from '../auth/token-verifier.js';
import { opaqueRefusals } from '../auth/opaque-refusal.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';

export interface AuthVars { identity: Identity }

/** The refusal a tenant's lifecycle state calls for, or null when it can serve. */
export function statusRefusal(status: Tenant['status']): AppError | null {
  if (status === 'suspended') return new AppError(503, 'TENANT_SUSPENDED', 'tenant is suspended', { 'Retry-After': '3600' });
  if (status === 'migrating' || status === 'provisioning') {
    return new AppError(503, 'TENANT_MIGRATING', 'tenant storage is being prepared', { 'Retry-After': '30' });
  }
  return null;
}

/**
 * Requires a token valid for the resolved tenant: a token of tenant A is refused on tenant B.
 * Only then is the tenant named (`X-Tenant`, `X-Tenant-Region`) and its state checked, so an
 * anonymous caller learns neither which tenant an issuer belongs to nor whether it is suspended.
 */
export const authenticate = () =>
  createMiddleware<{ Variables: ServicesVars & TenantVars & AuthVars }>(async function authenticate(c, next) {
    const tenant = c.get('tenant');
    const bearer = c.get('bearer');
    if (!bearer) throw new AppError(401, 'UNAUTHENTICATED', 'a bearer token is required', { 'WWW-Authenticate': 'Bearer' });
    // On the API host the platform token was already verified to find the tenant; the claim is re-checked here.
    const verifying = c.get('services').verifier.verifyFor(bearer, tenant, c.get('identity'));
    c.set('identity', await (c.get('onApiHost') ? opaqueRefusals(verifying) : verifying));
    c.header('X-Tenant', tenant.slug);
    c.header('X-Tenant-Region', tenant.region);
    const refusal = statusRefusal(tenant.status);
    if (refusal) throw refusal;
    await next();
  });
