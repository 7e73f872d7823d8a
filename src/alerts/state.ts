/**
 * What the evaluation keeps between runs, in the control database: its progress row (a lease so
 * runs never overlap, when each metrics shard was last read, when the audit chain was last
 * verified), the counters last seen per tenant and region, the EWMA baselines and the hysteresis
 * streaks. Everything a run changes is written in one transaction of bulk statements.
 */
import { db, type Sql } from '../control/db.js';
import type { Counters } from '../metrics/series.js';
import type { Baseline } from './ewma.js';
import type { Streak } from './hysteresis.js';

export interface Progress { shardReadAt: Record<string, number>; auditVerifiedAt: number | null }

/** A run may hold the lease this long (its parts are bounded well below). */
const LEASE = "interval '2 minutes'";

/** Takes the run's lease; null while another run holds it. */
export async function claimRun(sql: Sql): Promise<Progress | null> {
  const rows = await db(() => sql.query(
    `UPDATE alert_progress SET lease_until = now() + ${LEASE} WHERE id AND (lease_until IS NULL OR lease_until < now())
     RETURNING shard_read_at, audit_verified_at`)) as { shard_read_at: Record<string, number>; audit_verified_at: string | null }[];
  const r = rows[0];
  return r ? { shardReadAt: r.shard_read_at ?? {}, auditVerifiedAt: r.audit_verified_at ? Date.parse(r.audit_verified_at) : null } : null;
}

/** Gives the lease back. */
export async function releaseRun(sql: Sql): Promise<void> {
  await db(() => sql.query('UPDATE alert_progress SET lease_until = NULL WHERE id'));
}

/** `tenant\nregion` → the counters last seen. */
export async function loadSnapshots(sql: Sql): Promise<Map<string, Counters>> {
  const rows = await db(() => sql.query('SELECT tenant_id, region, counters FROM alert_snapshots')) as { tenant_id: string; region: string; counters: Counters }[];
  return new Map(rows.map((r) => [`${r.tenant_id}\n${r.region}`, r.counters]));
}

/** `tenant\nsignal` → baseline, for `tenantIds`. */
export async function loadBaselines(sql: Sql, tenantIds: string[]): Promise<Map<string, Baseline>> {
  if (tenantIds.length === 0) return new Map();
  const rows = await db(() => sql.query('SELECT tenant_id, signal, mean, variance, samples FROM alert_baselines WHERE tenant_id = ANY($1::uuid[])', [tenantIds])) as
    { tenant_id: string; signal: string; mean: number; variance: number; samples: number }[];
  return new Map(rows.map((r) => [`${r.tenant_id}\n${r.signal}`, { mean: Number(r.mean), variance: Number(r.variance), samples: Number(r.samples) }]));
}

/** dedup key → streak. */
export async function loadStreaks(sql: Sql): Promise<Map<string, Streak>> {
  const rows = await db(() => sql.query('SELECT dedup_key, breach, clear FROM alert_streaks LIMIT 100000')) as { dedup_key: string; breach: number; clear: number }[];
  return new Map(rows.map((r) => [r.dedup_key, { breach: Number(r.breach), clear: Number(r.clear) }]));
}

export interface StateChanges {
  snapshots: { tenant_id: string; region: string; counters: Counters }[];
  baselines: { tenant_id: string; signal: string; mean: number; variance: number; samples: number }[];
  streaks: { dedup_key: string; breach: number; clear: number }[];
  dropStreaks: string[];
}

/** Writes a run's changes and its progress in one transaction. */
export async function saveState(sql: Sql, c: StateChanges, now: number, p: Progress): Promise<void> {
  const at = new Date(now).toISOString();
  await db(() => sql.transaction([
    sql.query('UPDATE alert_progress SET shard_read_at = $1::jsonb, audit_verified_at = $2 WHERE id',
      [JSON.stringify(p.shardReadAt), p.auditVerifiedAt === null ? null : new Date(p.auditVerifiedAt).toISOString()]),
    ...telemetryWrites(sql, c, at),
    sql.query(`INSERT INTO alert_streaks (dedup_key, breach, clear, updated_at)
      SELECT x.dedup_key, x.breach, x.clear, $2 FROM jsonb_to_recordset($1::jsonb) AS x(dedup_key text, breach integer, clear integer)
      ON CONFLICT (dedup_key) DO UPDATE SET breach = excluded.breach, clear = excluded.clear, updated_at = excluded.updated_at`,
    [JSON.stringify(c.streaks), at]),
    sql.query('DELETE FROM alert_streaks WHERE dedup_key = ANY($1::text[])', [c.dropStreaks]),
  ]));
}

/**
 * The statements that write a run's snapshots and baselines. Telemetry of a tenant that no longer
 * exists (deleted while the run read its counters) is not written: its purge removed what it had.
 */
export function telemetryWrites(sql: Sql, c: Pick<StateChanges, 'snapshots' | 'baselines'>, at: string) {
  return [
    sql.query(`INSERT INTO alert_snapshots (tenant_id, region, counters)
      SELECT x.tenant_id, x.region, x.counters FROM jsonb_to_recordset($1::jsonb) AS x(tenant_id text, region text, counters jsonb)
       WHERE x.tenant_id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' OR EXISTS (SELECT 1 FROM tenants t WHERE t.id::text = x.tenant_id)
      ON CONFLICT (tenant_id, region) DO UPDATE SET counters = excluded.counters`, [JSON.stringify(c.snapshots)]),
    sql.query(`INSERT INTO alert_baselines (tenant_id, signal, mean, variance, samples, updated_at)
      SELECT x.tenant_id, x.signal, x.mean, x.variance, x.samples, $2 FROM jsonb_to_recordset($1::jsonb)
        AS x(tenant_id uuid, signal text, mean double precision, variance double precision, samples integer)
       WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = x.tenant_id)
      ON CONFLICT (tenant_id, signal) DO UPDATE SET mean = excluded.mean, variance = excluded.variance, samples = excluded.samples, updated_at = excluded.updated_at`,
    [JSON.stringify(c.baselines), at]),
  ];
}
