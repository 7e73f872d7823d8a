/**
 * Re-sealing one column of sealed values under the MASTER_KEY ring's current key (connection
 * secrets of dedicated databases, wrapped tenant data keys): the values not under the current key,
 * in tenant-id order after a cursor, in batches. Safe at any time: a row is rewritten only if it
 * still holds the value that was opened (compare-and-set), so a value changed meanwhile stays as it
 * is now; a row already under the current key is never selected, so a second run does nothing.
 * Each batch bumps the changed tenants' versions and records their router cache keys in the outbox
 * in the same statement, and delivers them after the commit, like every other change.
 */
import { db } from '../control/db.js';
import { deliver, WRITER_LEASE } from '../control/outbox.js';
import type { ControlServices } from '../control/services.js';
import type { LookupKey } from '../tenancy/tenant.js';
import { sealedKid, UnknownKeyError, type MasterKeys } from './secret-box.js';

type Services = Pick<ControlServices, 'sql' | 'cache' | 'masterKeys'>;

/** A column of sealed values, one per tenant (constant identifiers only). */
export interface SealedColumn {
  table: 'tenant_placements' | 'tenant_keys';
  column: 'connection_secret' | 'wrapped';
  /** A constant extra assignment of the update (e.g. when it was re-sealed). */
  touch?: string;
  /** The value re-sealed under the ring's current key, for `tenantId`. */
  reseal(keys: MasterKeys, value: string, tenantId: string): Promise<string>;
}

export interface ResealFailure { tenantId: string; kid: string | null; reason: 'key-not-in-ring' | 'does-not-open' | 'unrecognised-format' }

export interface ResealReport {
  current: string;
  /** Rows examined (not under the current key). */
  examined: number;
  resealed: number;
  /** Rows that changed between reading and writing (re-provisioned or re-wrapped meanwhile): left as they are now. */
  raced: number;
  failedCount: number;
  failed: ResealFailure[];
  /** Where to continue when this call stopped at its limit; null when it reached the end. */
  nextCursor: string | null;
}

/** Rows examined per batch (one select, one write, one cache invalidation). */
export const RESEAL_BATCH = 100;
/** At most this many failures are named in a report (all are counted). */
const FAILURE_SAMPLES = 20;

/** The key id of a stored value in `column`, as sealedKid() reads it (NULL: not a sealed value of ours). */
export const kidSql = (column: SealedColumn['column']): string => `CASE WHEN ${column} ~ '^v1\\.[^.]+\\.[^.]+$' THEN 'k0'
  WHEN ${column} ~ '^v2\\.[a-z0-9_-]{1,32}\\.[^.]+\\.[^.]+$' THEN split_part(${column}, '.', 2) END`;

/** Re-seals up to `limit` values of `col` not under the current key, in tenant-id order after `cursor`. */
export async function resealColumn(s: Services, col: SealedColumn, opts: { cursor?: string | null; limit: number }): Promise<ResealReport> {
  const report: ResealReport = { current: s.masterKeys.current, examined: 0, resealed: 0, raced: 0, failedCount: 0, failed: [], nextCursor: null };
  let after = opts.cursor ?? null;
  while (report.examined < opts.limit) {
    const size = Math.min(RESEAL_BATCH, opts.limit - report.examined);
    const rows = await db(() => s.sql.query(
      `SELECT tenant_id::text AS id, ${col.column} AS value FROM ${col.table}
        WHERE ${col.column} IS NOT NULL AND (${kidSql(col.column)}) IS DISTINCT FROM $1 AND ($2::uuid IS NULL OR tenant_id > $2::uuid)
        ORDER BY tenant_id LIMIT $3`, [s.masterKeys.current, after, size])) as { id: string; value: string }[];
    await resealBatch(s, col, rows, report);
    report.examined += rows.length;
    if (rows.length < size) return report;
    after = rows.at(-1)!.id;
  }
  report.nextCursor = after;
  return report;
}

/** Re-seals one batch, writes what still holds the value read, and invalidates the routers' copies. */
async function resealBatch(s: Services, col: SealedColumn, rows: { id: string; value: string }[], report: ResealReport): Promise<void> {
  const ids: string[] = [], olds: string[] = [], news: string[] = [];
  for (const r of rows) {
    try {
      news.push(await col.reseal(s.masterKeys, r.value, r.id));
      ids.push(r.id);
      olds.push(r.value);
    } catch (err) {
      const kid = sealedKid(r.value);
      const reason: ResealFailure['reason'] = !kid ? 'unrecognised-format' : err instanceof UnknownKeyError ? 'key-not-in-ring' : 'does-not-open';
      report.failedCount++;
      if (report.failed.length < FAILURE_SAMPLES) report.failed.push({ tenantId: r.id, kid, reason });
    }
  }
  if (ids.length === 0) return;
  const [row] = await db(() => s.sql.query(casSql(col), [ids, olds, news])) as { resealed: number; outbox: string | null; keys: LookupKey[] | null }[];
  report.resealed += row!.resealed;
  report.raced += ids.length - row!.resealed;
  if (row!.outbox) await deliver(s, row!.outbox, row!.keys!);
}

// One statement, so one transaction: the compare-and-set, the version bump of the tenants it
// changed, and their cache keys in the outbox (as templates.ts's bump of a tier's tenants).
const casSql = (col: SealedColumn) => `
WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) AS i(tenant_id, old_value, new_value)),
u AS (UPDATE ${col.table} x SET ${col.column} = i.new_value${col.touch ? `, ${col.touch}` : ''} FROM input i
       WHERE x.tenant_id = i.tenant_id AND x.${col.column} = i.old_value RETURNING x.tenant_id),
b AS (UPDATE tenants t SET version = t.version + 1, updated_at = now() FROM u WHERE t.id = u.tenant_id RETURNING t.id, t.slug),
k AS (SELECT jsonb_build_object('kind', 'id', 'value', b.id::text) AS key FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'slug', 'value', b.slug) FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'domain', 'value', d.hostname) FROM b JOIN tenant_domains d ON d.tenant_id = b.id
      UNION ALL SELECT jsonb_build_object('kind', 'issuer', 'value', j.issuer) FROM b JOIN tenant_jwt j ON j.tenant_id = b.id),
o AS (INSERT INTO cache_outbox (keys, next_at) SELECT jsonb_agg(key), now() + ${WRITER_LEASE} FROM k HAVING count(*) > 0 RETURNING id, keys)
SELECT (SELECT count(*)::int FROM u) AS resealed, o.id::text AS outbox, o.keys FROM (SELECT 1) AS one LEFT JOIN o ON true`;
