/**
 * MASTER_KEY rotation for tenant data keys: how many wrapped keys each ring key id still wraps,
 * and re-wrapping those not under the ring's current key. Only the wrapping changes: the data key
 * inside is the same, so every value sealed with it (c.var.crypto) keeps opening, and no tenant
 * data is read or written.
 *
 * As for connection secrets (src/crypto/reseal-column.ts, the same machinery): a row is rewritten only if it still holds the value that
 * was unwrapped (compare-and-set), a row under the current key is never selected (a second run
 * does nothing), and each batch bumps the changed tenants' versions and invalidates the routers'
 * cached records through the outbox in the same statement. Until a router reads the new record
 * it unwraps the old form, which works while the old key is still in its ring.
 */
import { db } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { kidSql, resealColumn, type ResealReport, type SealedColumn } from '../crypto/reseal-column.js';
import { rewrap } from './data-key.js';

type Services = Pick<ControlServices, 'sql' | 'cache' | 'masterKeys'>;

/** Wrapped tenant keys per ring key id (NULL id: a form this code does not know, counted as unrecognised). */
export async function wrappedKeyCounts(s: Pick<Services, 'sql'>): Promise<{ kid: string | null; n: number }[]> {
  return await db(() => s.sql.query(`SELECT ${kidSql('wrapped')} AS kid, count(*)::int AS n FROM tenant_keys GROUP BY 1`)) as { kid: string | null; n: number }[];
}

/** Tenant data keys, wrapped for their tenant; only the wrapping changes. */
const TENANT_KEYS: SealedColumn = {
  table: 'tenant_keys', column: 'wrapped', touch: 'rewrapped_at = now()',
  reseal: (keys, value, tenantId) => rewrap(keys, value, tenantId),
};

/** Re-wraps up to `limit` tenant keys not under the current key, in tenant-id order after `cursor`. */
export function rewrapTenantKeys(s: Services, opts: { cursor?: string | null; limit: number }): Promise<ResealReport> {
  return resealColumn(s, TENANT_KEYS, opts);
}
