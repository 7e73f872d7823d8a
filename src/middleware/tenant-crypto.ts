import { createMiddleware } from 'hono/factory';
import type { TenantCrypto } from '../tenant-keys/tenant-crypto.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';

export interface CryptoVars { crypto: TenantCrypto }

/** Gives the handler `c.var.crypto`: field encryption with the tenant's data key (src/tenant-keys/); no I/O until used. */
export const tenantCrypto = () =>
  createMiddleware<{ Variables: ServicesVars & TenantVars & CryptoVars }>(async function tenantCrypto(c, next) {
    c.set('crypto', c.get('services').keys.for(c.get('tenant')));
    await next();
  });
