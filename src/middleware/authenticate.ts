import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import type { Identity } from '../auth/token-verifier.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';

export interface AuthVars { identity: Identity }

/** Requires a token valid for the resolved tenant: a token of tenant A is refused on tenant B. */
export const authenticate = () =>
  createMiddleware<{ Variables: ServicesVars & TenantVars & AuthVars }>(async function authenticate(c, next) {
    const { tenant, bearer } = c.var;
    if (!bearer) throw new AppError(401, 'UNAUTHENTICATED', 'a bearer token is required', { 'WWW-Authenticate': 'Bearer' });
    // On the API host the platform token was already verified to find the tenant; the claim is re-checked here.
    c.set('identity', await c.var.services.verifier.verifyFor(bearer, tenant, c.var.identity));
    await next();
  });
