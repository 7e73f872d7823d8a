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
import { deliver, WRITER_LEASE } from '../control/outbox.js';
import type { ControlServices } from '../control/services.js';
import type { LookupKey } from '../tenancy/tenant.js';
import { kidsOf } from './key-ring.js';
import { open, seal, sealedKid, UnknownKeyError } from './secret-box.js';
import { wrappedKeyCounts } from '../tenant-keys/rewrap.js';

type Services = Pick<ControlServices, 'sql' | 'cache' | 'masterKeys'>;

// The key id of a stored secret, as sealedKid() reads it (NULL: not a sealed value of ours).
const KID_SQL = `CASE WHEN connection_secret ~ '^v1\\.[^.]+\\.[^.]+$' THEN 'k0'
  WHEN connection_secret ~ '^v2\\.[a-z0-9_-]{1,32}\\.[^.]+\\.[^.]+$' THEN split_part(connection_secret, '.', 2) END`;

/** Rows examined per batch (one select, one write, one cache invalidation). */
export const RESEAL_BATCH = 100;
/** At most this many failures are named in a report (all are counted). */
const FAILURE_SAMPLES = 20;

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
    s.sql.query(`SELECT ${KID_SQL} AS kid, count(*)::int AS n FROM tenant_placements WHERE connection_secret IS NOT NULL GROUP BY 1`),
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

export interface ResealFailure { tenantId: string; kid: string | null; reason: 'key-not-in-ring' | 'does-not-open' | 'unrecognised-format' }

export interface ResealReport {
  current: string;
  /** Rows examined (not under the current key). */
  examined: number;
  resealed: number;
  /** Rows that changed between reading and writing (re-provisioned meanwhile): left as they are now. */
  raced: number;
  failedCount: number;
  failed: ResealFailure[];
  /** Where to continue when this call stopped at its limit; null when it reached the end. */
  nextCursor: string | null;
}

/** Re-seals up to `limit` secrets not under the current key, in tenant-id order after `cursor`. */
export async function resealSecrets(s: Services, opts: { cursor?: string | null; limit: number }): Promise<ResealReport> {
  const report: ResealReport = { current: s.masterKeys.current, examined: 0, resealed: 0, raced: 0, failedCount: 0, failed: [], nextCursor: null };
  let after = opts.cursor ?? null;
  while (report.examined < opts.limit) {
    const size = Math.min(RESEAL_BATCH, opts.limit - report.examined);
    const rows = await db(() => s.sql.query(
      `SELECT tenant_id::text AS id, connection_secret AS sealed FROM tenant_placements
        WHERE connection_secret IS NOT NULL AND (${KID_SQL}) IS DISTINCT FROM $1 AND ($2::uuid IS NULL OR tenant_id > $2::uuid)
        ORDER BY tenant_id LIMIT $3`, [s.masterKeys.current, after, size])) as { id: string; sealed: string }[];
    await resealBatch(s, rows, report);
    report.examined += rows.length;
    if (rows.length < size) return report;
    after = rows.at(-1)!.id;
  }
  report.nextCursor = after;
  return report;
}

/** Opens and re-seals one batch, writes what still holds the value read, and invalidates the routers' copies. */
async function resealBatch(s: Services, rows: { id: string; sealed: string }[], report: ResealReport): Promise<void> {
  const ids: string[] = [], olds: string[] = [], news: string[] = [];
  for (const r of rows) {
    try {
      news.push(await seal(s.masterKeys, await open(s.masterKeys, r.sealed, r.id), r.id));
      ids.push(r.id);
      olds.push(r.sealed);
    } catch (err) {
      const kid = sealedKid(r.sealed);
      const reason = !kid ? 'unrecognised-format' : err instanceof UnknownKeyError ? 'key-not-in-ring' : 'does-not-open';
      report.failedCount++;
      if (report.failed.length < FAILURE_SAMPLES) report.failed.push({ tenantId: r.id, kid, reason });
    }
  }
  if (ids.length === 0) return;
  const [row] = await db(() => s.sql.query(RESEAL_SQL, [ids, olds, news])) as { resealed: number; outbox: string | null; keys: LookupKey[] | null }[];
  report.resealed += row!.resealed;
  report.raced += ids.length - row!.resealed;
  if (row!.outbox) await deliver(s, row!.outbox, row!.keys!);
}

// One statement, so one transaction: the compare-and-set, the version bump of the tenants it
// changed, and their cache keys in the outbox (as templates.ts's bump of a tier's tenants).
const RESEAL_SQL = `
WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) AS i(tenant_id, old_secret, new_secret)),
u AS (UPDATE tenant_placements p SET connection_secret = i.new_secret FROM input i
       WHERE p.tenant_id = i.tenant_id AND p.connection_secret = i.old_secret RETURNING p.tenant_id),
b AS (UPDATE tenants t SET version = t.version + 1, updated_at = now() FROM u WHERE t.id = u.tenant_id RETURNING t.id, t.slug),
k AS (SELECT jsonb_build_object('kind', 'id', 'value', b.id::text) AS key FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'slug', 'value', b.slug) FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'domain', 'value', d.hostname) FROM b JOIN tenant_domains d ON d.tenant_id = b.id
      UNION ALL SELECT jsonb_build_object('kind', 'issuer', 'value', j.issuer) FROM b JOIN tenant_jwt j ON j.tenant_id = b.id),
o AS (INSERT INTO cache_outbox (keys, next_at) SELECT jsonb_agg(key), now() + ${WRITER_LEASE} FROM k HAVING count(*) > 0 RETURNING id, keys)
SELECT (SELECT count(*)::int FROM u) AS resealed, o.id::text AS outbox, o.keys FROM (SELECT 1) AS one LEFT JOIN o ON true`;
