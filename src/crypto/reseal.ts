/**
 * MASTER_KEY rotation in the control database: how many connection secrets each key id still
 * seals, and re-sealing those not under the ring's current key.
 *
 * Re-sealing is safe at any time: a row is only rewritten if it still holds the value that was
 * opened (compare-and-set), so a tenant re-provisioned meanwhile keeps its new secret; a row
 * already under the current key is never selected, so a second run does nothing. Each batch bumps
 * the changed tenants' versions and records their router cache keys in the outbox in the same
 * statement, and delivers them after the commit, like every other change: routers pick up the
 * new sealed value within the usual bound. Until then they open the old one, which works as long
 * as its key is still in their ring: the old key is removed only once the count under it is 0.
 */
import { db } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { kidsOf } from './key-ring.js';
import { kidSql, resealColumn, type ResealReport, type SealedColumn } from './reseal-column.js';
import { open, seal } from './secret-box.js';
import { wrappedKeyCounts } from '../tenant-keys/rewrap.js';

export { RESEAL_BATCH, type ResealFailure, type ResealReport } from './reseal-column.js';

type Services = Pick<ControlServices, 'sql' | 'cache' | 'masterKeys'>;

export interface KeyStatus {
  current: string;
  /** The ring's key ids, current first (never the keys). */
  kids: string[];
  /** Sealed secrets per key id: every id of the ring (0 included) and every id found in the rows. */
  sealed: Record<string, number>;
  /** Tenant data keys wrapped per key id (src/tenant-keys/, re-wrapped by POST /admin/v1/keys/rewrap), as `sealed`. */
  tenantKeys: Record<string, number>;
  /** Stored secrets and wrapped tenant keys in no format this code knows. */
  unrecognised: number;
  /** Ring ids other than the current one that seal and wrap nothing any more. */
  retirable: string[];
  /** Router cache invalidations not delivered yet (any change's): routers may still hold old records. */
  pendingInvalidations: number;
}

/** The ring and what the control database holds under each of its keys. */
export async function keyStatus(s: Services): Promise<KeyStatus> {
  const [counts, outbox] = await db(() => s.sql.transaction([
    s.sql.query(`SELECT ${kidSql('connection_secret')} AS kid, count(*)::int AS n FROM tenant_placements WHERE connection_secret IS NOT NULL GROUP BY 1`),
    s.sql.query('SELECT count(*)::int AS n FROM cache_outbox'),
  ])) as [{ kid: string | null; n: number }[], { n: number }[]];
  const wrappedCounts = await wrappedKeyCounts(s);
  const kids = kidsOf(s.masterKeys);
  const sealed: Record<string, number> = Object.fromEntries(kids.map((k) => [k, 0]));
  const tenantKeys: Record<string, number> = Object.fromEntries(kids.map((k) => [k, 0]));
  let unrecognised = 0;
  for (const r of counts) if (r.kid === null) unrecognised += r.n; else sealed[r.kid] = r.n;
  for (const r of wrappedCounts) if (r.kid === null) unrecognised += r.n; else tenantKeys[r.kid] = r.n;
  const current = s.masterKeys.current;
  return {
    current, kids, sealed, tenantKeys, unrecognised, pendingInvalidations: outbox[0]?.n ?? 0,
    retirable: kids.filter((k) => k !== current && !sealed[k] && !tenantKeys[k]),
  };
}

/** The connection strings of dedicated databases, sealed for their tenant. */
const CONNECTION_SECRETS: SealedColumn = {
  table: 'tenant_placements', column: 'connection_secret',
  reseal: async (keys, value, tenantId) => seal(keys, await open(keys, value, tenantId), tenantId),
};

/** Re-seals up to `limit` secrets not under the current key, in tenant-id order after `cursor`. */
export function resealSecrets(s: Services, opts: { cursor?: string | null; limit: number }): Promise<ResealReport> {
  return resealColumn(s, CONNECTION_SECRETS, opts);
}
