import { createMiddleware } from 'hono/factory';
import type { TenantDb } from '../data/tenant-db.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';

export interface DbVars { db: TenantDb }

/** Gives the handler a database handle for the resolved tenant (no I/O until its first query). */
export const tenantDb = () =>
  createMiddleware<{ Variables: ServicesVars & TenantVars & DbVars }>(async function tenantDb(c, next) {
    c.set('db', c.var.services.data.for(c.var.tenant));
    await next();
  });
