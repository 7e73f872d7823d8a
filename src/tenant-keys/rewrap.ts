/**
 * MASTER_KEY rotation for tenant data keys: how many wrapped keys each ring key id still wraps,
 * and re-wrapping those not under the ring's current key. Only the wrapping changes: the data key
 * inside is the same, so every value sealed with it (c.var.crypto) keeps opening, and no tenant
 * data is read or written.
 *
 * As reseal.ts for connection secrets: a row is rewritten only if it still holds the value that
 * was unwrapped (compare-and-set), a row under the current key is never selected (a second run
 * does nothing), and each batch bumps the changed tenants' versions and invalidates the routers'
 * cached records through the outbox in the same statement. Until a router reads the new record
 * it unwraps the old form, which works while the old key is still in its ring.
 */
import { db } from '../control/db.js';
import { deliver, WRITER_LEASE } from '../control/outbox.js';
import type { ControlServices } from '../control/services.js';
import type { LookupKey } from '../tenancy/tenant.js';
import { sealedKid, UnknownKeyError } from '../crypto/secret-box.js';
import type { ResealFailure, ResealReport } from '../crypto/reseal.js';
import { rewrap } from './data-key.js';

type Services = Pick<ControlServices, 'sql' | 'cache' | 'masterKeys'>;

const KID_SQL = `CASE WHEN wrapped ~ '^v1\\.[^.]+\\.[^.]+$' THEN 'k0'
  WHEN wrapped ~ '^v2\\.[a-z0-9_-]{1,32}\\.[^.]+\\.[^.]+$' THEN split_part(wrapped, '.', 2) END`;

const BATCH = 100;
const FAILURE_SAMPLES = 20;

/** Wrapped tenant keys per ring key id (NULL id: a form this code does not know, counted as unrecognised). */
export async function wrappedKeyCounts(s: Pick<Services, 'sql'>): Promise<{ kid: string | null; n: number }[]> {
  return await db(() => s.sql.query(`SELECT ${KID_SQL} AS kid, count(*)::int AS n FROM tenant_keys GROUP BY 1`)) as { kid: string | null; n: number }[];
}

/** Re-wraps up to `limit` tenant keys not under the current key, in tenant-id order after `cursor`. */
export async function rewrapTenantKeys(s: Services, opts: { cursor?: string | null; limit: number }): Promise<ResealReport> {
  const report: ResealReport = { current: s.masterKeys.current, examined: 0, resealed: 0, raced: 0, failedCount: 0, failed: [], nextCursor: null };
  let after = opts.cursor ?? null;
  while (report.examined < opts.limit) {
    const size = Math.min(BATCH, opts.limit - report.examined);
    const rows = await db(() => s.sql.query(
      `SELECT tenant_id::text AS id, wrapped FROM tenant_keys
        WHERE (${KID_SQL}) IS DISTINCT FROM $1 AND ($2::uuid IS NULL OR tenant_id > $2::uuid)
        ORDER BY tenant_id LIMIT $3`, [s.masterKeys.current, after, size])) as { id: string; wrapped: string }[];
    await rewrapBatch(s, rows, report);
    report.examined += rows.length;
    if (rows.length < size) return report;
    after = rows.at(-1)!.id;
  }
  report.nextCursor = after;
  return report;
}

async function rewrapBatch(s: Services, rows: { id: string; wrapped: string }[], report: ResealReport): Promise<void> {
  const ids: string[] = [], olds: string[] = [], news: string[] = [];
  for (const r of rows) {
    try {
      news.push(await rewrap(s.masterKeys, r.wrapped, r.id));
      ids.push(r.id);
      olds.push(r.wrapped);
    } catch (err) {
      const kid = sealedKid(r.wrapped);
      const reason: ResealFailure['reason'] = !kid ? 'unrecognised-format' : err instanceof UnknownKeyError ? 'key-not-in-ring' : 'does-not-open';
      report.failedCount++;
      if (report.failed.length < FAILURE_SAMPLES) report.failed.push({ tenantId: r.id, kid, reason });
    }
  }
  if (ids.length === 0) return;
  const [row] = await db(() => s.sql.query(REWRAP_SQL, [ids, olds, news])) as { rewrapped: number; outbox: string | null; keys: LookupKey[] | null }[];
  report.resealed += row!.rewrapped;
  report.raced += ids.length - row!.rewrapped;
  if (row!.outbox) await deliver(s, row!.outbox, row!.keys!);
}

// One statement, so one transaction: compare-and-set, version bump, the routers' cache keys in the outbox.
const REWRAP_SQL = `
WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) AS i(tenant_id, old_wrapped, new_wrapped)),
u AS (UPDATE tenant_keys k SET wrapped = i.new_wrapped, rewrapped_at = now() FROM input i
       WHERE k.tenant_id = i.tenant_id AND k.wrapped = i.old_wrapped RETURNING k.tenant_id),
b AS (UPDATE tenants t SET version = t.version + 1, updated_at = now() FROM u WHERE t.id = u.tenant_id RETURNING t.id, t.slug),
k AS (SELECT jsonb_build_object('kind', 'id', 'value', b.id::text) AS key FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'slug', 'value', b.slug) FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'domain', 'value', d.hostname) FROM b JOIN tenant_domains d ON d.tenant_id = b.id
      UNION ALL SELECT jsonb_build_object('kind', 'issuer', 'value', j.issuer) FROM b JOIN tenant_jwt j ON j.tenant_id = b.id),
o AS (INSERT INTO cache_outbox (keys, next_at) SELECT jsonb_agg(key), now() + ${WRITER_LEASE} FROM k HAVING count(*) > 0 RETURNING id, keys)
SELECT (SELECT count(*)::int FROM u) AS rewrapped, o.id::text AS outbox, o.keys FROM (SELECT 1) AS one LEFT JOIN o ON true`;
