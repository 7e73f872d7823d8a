import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import type { TenantVars } from './resolve-tenant.js';

/** Methods served to a tenant over its storage limit: reads, and DELETE, which is how it frees space. */
const SERVED = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/**
 * Refuses writes of a tenant whose last measured storage exceeds its tier's `storage_mb`
 * (`tenant.storageExceeded`, refreshed by the control plane's scheduled job: src/storage/) with
 * 507 STORAGE_QUOTA_EXCEEDED; reads are still served, and so is DELETE. Before the quota step,
 * so a refused write costs the tenant nothing.
 */
export const storageQuota = () =>
  createMiddleware<{ Variables: TenantVars }>(async function storageQuota(c, next) {
    if (c.get('tenant').storageExceeded && !SERVED.has(c.req.method)) {
      throw new AppError(507, 'STORAGE_QUOTA_EXCEEDED', "the tenant's storage is over its tier's limit: writes are refused until data is deleted (reads and DELETE are served)");
    }
    await next();
  });
