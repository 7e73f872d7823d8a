import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import { checkGeo, checkResidency } from '../policy/access-policy.js';
import type { RequestContextVars } from './request-context.js';
import type { TenantVars } from './resolve-tenant.js';

/** Refuses requests whose tenant data region breaks its residency (451), or whose origin its geo policy blocks (403). */
export const residency = () =>
  createMiddleware<{ Variables: RequestContextVars & TenantVars }>(async function residency(c, next) {
    const tenant = c.get('tenant');
    const refusal = checkResidency(tenant) ?? checkGeo(tenant.geo, c.get('runtime'));
    if (refusal) {
      if (refusal.code === 'RESIDENCY_VIOLATION') {
        console.warn(JSON.stringify({ level: 'warn', msg: 'residency violation', requestId: c.get('requestId'), tenant: tenant.id, region: tenant.region }));
      }
      throw new AppError(refusal.status, refusal.code, refusal.message);
    }
    await next();
  });
