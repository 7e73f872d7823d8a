/**
 * The scheduled storage run (the control worker's Cron Trigger, runScheduled): measures the
 * tenants whose last measurement is older than STORAGE_REFRESH_SECONDS (at most BATCH per run,
 * the oldest first), stores each in `tenant_storage`, and for each tenant whose measurement moved
 * it across its tier's storage_mb bumps its version and puts its cache keys in the outbox, as a
 * suspension does: routers learn `storageExceeded` within their L1 TTL. On the way, a role whose
 * CONNECTION LIMIT differs from the tier's connection_limit is set again (a template change, or
 * an ALTER that failed when the tier changed). Regions and databases are measured independently:
 * one that cannot be reached only leaves its tenants for a later run: each failed tenant backs off
 * (tenant_storage_attempts), so the same few never take every run's batch from the rest.
 */
import { open } from '../crypto/secret-box.js';
import { db, type Sql } from '../control/db.js';
import { deliver, WRITER_LEASE } from '../control/outbox.js';
import type { ControlServices } from '../control/services.js';
import type { LookupKey } from '../tenancy/tenant.js';
import type { Isolation } from '../tenancy/tenant.js';
import { measureDatabase, measureRegion, type Measurement, type Method } from './measure.js';

/** Tenants measured per run: bounds the run (row tenants are read row by row). */
export const BATCH = 200;

export interface StorageReport { measured: number; failed: number; changed: number; connectionLimits: number }

interface Due {
  id: string; region: string; strategy: Isolation; schema_name: string | null; role_name: string | null;
  connection_secret: string | null; database_name: string | null; external_ref: string | null; connection_limit: number;
}

const DUE = `
SELECT t.id, p.region, p.strategy, p.schema_name, p.role_name, p.connection_secret, p.database_name, p.external_ref,
       coalesce((t.overrides->>'connection_limit')::int, tr.connection_limit) AS connection_limit
  FROM tenants t JOIN tiers tr ON tr.name = t.tier JOIN tenant_placements p ON p.tenant_id = t.id
  LEFT JOIN tenant_storage s ON s.tenant_id = t.id
  LEFT JOIN tenant_storage_attempts a ON a.tenant_id = t.id
 WHERE t.status IN ('active', 'suspended', 'migrating')
   AND (s.measured_at IS NULL OR s.measured_at <= now() - make_interval(secs => $1))
   AND (a.retry_at IS NULL OR a.retry_at <= now())
   AND ($3::uuid[] IS NULL OR t.id = ANY($3::uuid[]))
 ORDER BY s.measured_at NULLS FIRST, t.id LIMIT $2`;

/**
 * Stores the measurements and, in the same statement, bumps the tenants whose measurement crossed
 * their (overridden) limit, with their router cache keys in one outbox row (as bumpTenantsOn).
 * Every sub-statement sees the table as it was before, so `old` is the previous measurement.
 */
const RECORD = `
WITH m AS (SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS m(tenant_id, bytes, method)),
lim AS (SELECT t.id, t.slug, coalesce((t.overrides->>'storage_mb')::bigint, tr.storage_mb) * 1048576 AS limit_bytes
          FROM tenants t JOIN tiers tr ON tr.name = t.tier WHERE t.id IN (SELECT tenant_id FROM m)),
old AS (SELECT s.tenant_id, s.bytes FROM tenant_storage s WHERE s.tenant_id IN (SELECT tenant_id FROM m)),
up AS (INSERT INTO tenant_storage (tenant_id, bytes, method, measured_at)
         SELECT m.tenant_id, m.bytes, m.method, now() FROM m JOIN lim ON lim.id = m.tenant_id
       ON CONFLICT (tenant_id) DO UPDATE SET bytes = EXCLUDED.bytes, method = EXCLUDED.method, measured_at = EXCLUDED.measured_at
       RETURNING tenant_id),
flip AS (SELECT lim.id FROM lim JOIN m ON m.tenant_id = lim.id LEFT JOIN old ON old.tenant_id = lim.id
          WHERE (coalesce(old.bytes, 0) > lim.limit_bytes) <> (m.bytes > lim.limit_bytes)),
b AS (UPDATE tenants SET version = version + 1, updated_at = now() WHERE id IN (SELECT id FROM flip) RETURNING id, slug),
k AS (SELECT jsonb_build_object('kind', 'id', 'value', b.id::text) AS key FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'slug', 'value', b.slug) FROM b
      UNION ALL SELECT jsonb_build_object('kind', 'domain', 'value', d.hostname) FROM b JOIN tenant_domains d ON d.tenant_id = b.id
      UNION ALL SELECT jsonb_build_object('kind', 'issuer', 'value', j.issuer) FROM b JOIN tenant_jwt j ON j.tenant_id = b.id),
cleared AS (DELETE FROM tenant_storage_attempts WHERE tenant_id IN (SELECT tenant_id FROM up)),
o AS (INSERT INTO cache_outbox (keys, next_at) SELECT jsonb_agg(key), now() + ${WRITER_LEASE} FROM k HAVING count(*) > 0 RETURNING id, keys)
SELECT (SELECT count(*) FROM up) AS stored, (SELECT count(*) FROM b) AS changed, (SELECT id FROM o) AS outbox, (SELECT keys FROM o) AS keys`;

/**
 * Tenants whose measurement failed wait before they are due again: the refresh interval (at least
 * a minute) doubled per failure in a row, at most a day. The rest of the fleet keeps being measured.
 */
const MISSED = `
INSERT INTO tenant_storage_attempts AS a (tenant_id, failures, attempted_at, retry_at)
SELECT id, 1, now(), now() + make_interval(secs => greatest($2::float8, 60)) FROM unnest($1::uuid[]) AS id
    ON CONFLICT (tenant_id) DO UPDATE SET failures = a.failures + 1, attempted_at = now(),
       retry_at = now() + make_interval(secs => least(greatest($2::float8, 60) * power(2, least(a.failures, 20)), 86400))`;

/** Measures the due tenants (of `only`, when given) and records what it found; see the file's comment. */
export async function refreshStorage(s: ControlServices, opts: { batch?: number; only?: string[] } = {}): Promise<StorageReport> {
  const due = await db(() => s.sql.query(DUE, [s.config.STORAGE_REFRESH_SECONDS, opts.batch ?? BATCH, opts.only ?? null])) as Due[];
  const found = new Map<string, Measurement>();
  let failed = 0;
  const byRegion = new Map<string, Due[]>();
  for (const t of due) if (t.strategy !== 'database') byRegion.set(t.region, [...(byRegion.get(t.region) ?? []), t]);
  for (const [region, ts] of byRegion) {
    const adminUrl = s.config.REGION_ADMIN_URLS[region];
    try {
      if (!adminUrl) throw new Error(`no owner URL for region ${region}`);
      const rows = ts.filter((t) => t.strategy === 'row').map((t) => t.id);
      const schemas = ts.filter((t) => t.strategy === 'schema' && t.schema_name && t.role_name)
        .map((t) => ({ tenantId: t.id, schema: t.schema_name!, role: t.role_name! }));
      for (const [id, m] of await measureRegion(adminUrl, rows, schemas)) found.set(id, m);
    } catch (err) {
      failed += ts.length;
      warn('storage of a region not measured', { region }, err);
    }
  }
  for (const t of due.filter((x) => x.strategy === 'database')) {
    try {
      if (!t.connection_secret) throw new Error('no connection secret');
      found.set(t.id, await measureDatabase(await open(s.masterKeys, t.connection_secret, t.id)));
    } catch (err) {
      failed++;
      warn('storage of a dedicated database not measured', { tenant: t.id }, err);
    }
  }
  const missed = due.filter((t) => !found.has(t.id)).map((t) => t.id);
  if (missed.length) await db(() => s.sql.query(MISSED, [missed, s.config.STORAGE_REFRESH_SECONDS]));
  const changed = found.size ? await record(s, found) : 0;
  const connectionLimits = await reconcileLimits(s, due, found);
  return { measured: found.size, failed, changed, connectionLimits };
}

async function record(s: ControlServices, found: Map<string, Measurement>): Promise<number> {
  const ids = [...found.keys()];
  const [r] = await db(() => s.sql.query(RECORD, [ids, ids.map((id) => found.get(id)!.bytes), ids.map((id) => found.get(id)!.method)])) as
    { changed: string; outbox: string | null; keys: LookupKey[] | null }[];
  if (r?.outbox && r.keys) await deliver(s, r.outbox, r.keys);
  return Number(r?.changed ?? 0);
}

/** Sets the tier's connection limit on roles that have another; how many were set. */
async function reconcileLimits(s: ControlServices, due: Due[], found: Map<string, Measurement>): Promise<number> {
  let set = 0;
  for (const t of due) {
    const m = found.get(t.id);
    if (!m || m.connectionLimit === null || t.strategy === 'row' || m.connectionLimit === Number(t.connection_limit)) continue;
    try {
      await s.provisioner.setConnectionLimit(t.id, placementOf(t), Number(t.connection_limit));
      set++;
    } catch (err) {
      warn('connection limit not set', { tenant: t.id }, err);
    }
  }
  return set;
}

const placementOf = (t: Due) => ({
  region: t.region, strategy: t.strategy, schemaName: t.schema_name, roleName: t.role_name,
  databaseName: t.database_name, connectionSecret: t.connection_secret, externalRef: t.external_ref,
});

function warn(msg: string, where: Record<string, string>, err: unknown): void {
  console.warn(JSON.stringify({ level: 'warn', msg, ...where, error: String((err as Error)?.message ?? err).slice(0, 200) }));
}

/** The last measurement of a tenant, for the usage API. */
export async function storageOf(sql: Sql, id: string): Promise<{ bytes: number; method: Method; measuredAt: string; limitBytes: number } | null> {
  const rows = await db(() => sql.query(
    `SELECT s.bytes, s.method, s.measured_at, coalesce((t.overrides->>'storage_mb')::bigint, tr.storage_mb) * 1048576 AS limit_bytes
       FROM tenant_storage s JOIN tenants t ON t.id = s.tenant_id JOIN tiers tr ON tr.name = t.tier WHERE s.tenant_id = $1`, [id])) as
    { bytes: string; method: Method; measured_at: string; limit_bytes: string }[];
  const r = rows[0];
  return r ? { bytes: Number(r.bytes), method: r.method, measuredAt: new Date(r.measured_at).toISOString(), limitBytes: Number(r.limit_bytes) } : null;
}
