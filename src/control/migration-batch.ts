/**
 * The fleet path of tenant migrations (docs/migrations.md): a batch of tenants is marked
 * `migrating`, grouped by region, applied through the provisioner over one connection per
 * database (regions in parallel), and every outcome recorded in one statement. Reverting a batch
 * runs the catalogued `down`s the same way.
 */
import { AppError } from '../errors.js';
import type { CataloguedMigration } from '../migrations/batch-runner.js';
import type { PlacedTenant, Placement } from '../provisioning/provisioner.js';
import { db } from './db.js';
import { loadFullCatalogue, recordMigrations, recordReverted, type MigrationRecord } from './migration-catalog.js';
import type { ControlServices } from './services.js';

export interface BatchResult { tenantId: string; state: 'current' | 'failed' | 'skipped'; applied: string[]; error: string | null }
export interface RevertResult { tenantId: string; state: 'reverted' | 'failed' | 'skipped'; reverted: string[]; applied: string | null; error: string | null }

interface Loaded { placed: (PlacedTenant & { region: string })[]; skipped: Map<string, string> }

/** Applies the catalogue to `tenantIds`; a tenant's failure is its result. */
export async function migrateBatch(s: ControlServices, tenantIds: string[]): Promise<BatchResult[]> {
  const [catalogue, { placed, skipped }] = await Promise.all([loadFullCatalogue(s.sql), loadPlaced(s, tenantIds)]);
  const head = catalogue.at(-1)?.name ?? null;
  await recordMigrations(s.sql, placed.map((t) => ({ tenantId: t.tenantId, applied: null, state: 'migrating', error: null })));
  const outcomes = await byRegion(placed, (region, ts) => s.provisioner.migrateMany(region, ts, catalogue));
  const records: MigrationRecord[] = [];
  const results = new Map<string, BatchResult>();
  for (const t of placed) {
    const o = outcomes.get(t.tenantId) ?? { ok: false as const, error: 'no outcome' };
    records.push(o.ok ? { tenantId: t.tenantId, applied: head, state: 'current', error: null } : { tenantId: t.tenantId, applied: null, state: 'failed', error: o.error });
    results.set(t.tenantId, o.ok ? { tenantId: t.tenantId, state: 'current', applied: o.applied, error: null } : { tenantId: t.tenantId, state: 'failed', applied: [], error: o.error });
  }
  await recordMigrations(s.sql, records);
  return tenantIds.map((id) => results.get(id) ?? { tenantId: id, state: 'skipped', applied: [], error: skipped.get(id) ?? 'not found' });
}

/** Runs the `down`s of `names` (newest first, where applied) on `tenantIds`. */
export async function revertBatch(s: ControlServices, tenantIds: string[], names: string[]): Promise<RevertResult[]> {
  const [catalogue, { placed, skipped }] = await Promise.all([loadFullCatalogue(s.sql), loadPlaced(s, tenantIds)]);
  const migrations = selectDowns(catalogue, names);
  await recordMigrations(s.sql, placed.map((t) => ({ tenantId: t.tenantId, applied: null, state: 'migrating', error: null })));
  const outcomes = await byRegion(placed, (region, ts) => s.provisioner.revertMany(region, ts, migrations));
  const reverted: { tenantId: string; head: string | null }[] = [];
  const failed: MigrationRecord[] = [];
  const results = new Map<string, RevertResult>();
  for (const t of placed) {
    const o = outcomes.get(t.tenantId) ?? { ok: false as const, error: 'no outcome' };
    if (o.ok) {
      reverted.push({ tenantId: t.tenantId, head: o.head });
      results.set(t.tenantId, { tenantId: t.tenantId, state: 'reverted', reverted: o.reverted, applied: o.head, error: null });
    } else {
      failed.push({ tenantId: t.tenantId, applied: null, state: 'failed', error: `rollback failed: ${o.error}` });
      results.set(t.tenantId, { tenantId: t.tenantId, state: 'failed', reverted: [], applied: null, error: o.error });
    }
  }
  await recordReverted(s.sql, reverted);
  await recordMigrations(s.sql, failed);
  return tenantIds.map((id) => results.get(id) ?? { tenantId: id, state: 'skipped', reverted: [], applied: null, error: skipped.get(id) ?? 'not found' });
}

/** The catalogued migrations named, each with its down (pure); an unknown name or a missing down is refused before anything runs. */
export function selectDowns(catalogue: CataloguedMigration[], names: string[]): CataloguedMigration[] {
  const byName = new Map(catalogue.map((m) => [m.name, m]));
  return [...new Set(names)].map((n) => {
    const m = byName.get(n);
    if (!m) throw new AppError(404, 'NOT_FOUND', `${n} is not catalogued`);
    if (!m.down) throw new AppError(409, 'INVALID_STATE', `${n} ships no down migration; it cannot be rolled back`);
    return m;
  });
}

/** The tenants' placements in one query; tenants that cannot be migrated now are skipped with the reason. */
async function loadPlaced(s: ControlServices, tenantIds: string[]): Promise<Loaded> {
  const rows = await db(() => s.sql.query(
    `SELECT t.id, t.status, p.region, p.strategy, p.schema_name AS "schemaName", p.role_name AS "roleName",
            p.database_name AS "databaseName", p.connection_secret AS "connectionSecret", p.external_ref AS "externalRef"
       FROM tenants t LEFT JOIN tenant_placements p ON p.tenant_id = t.id WHERE t.id = ANY($1::uuid[])`,
    [tenantIds])) as ({ id: string; status: string } & { [K in keyof Placement]: Placement[K] | null })[];
  const placed: Loaded['placed'] = [];
  const skipped = new Map<string, string>();
  for (const r of rows) {
    if (r.status === 'provisioning' || r.status === 'deleting') skipped.set(r.id, `tenant is ${r.status}`);
    else if (!r.region || !r.strategy) skipped.set(r.id, 'tenant has no storage');
    else placed.push({ tenantId: r.id, region: r.region, placement: r as unknown as Placement });
  }
  return { placed, skipped };
}

/** Runs `work` once per region with that region's tenants, the regions in parallel; a region that throws fails its tenants. */
async function byRegion<O>(tenants: (PlacedTenant & { region: string })[], work: (region: string, ts: PlacedTenant[]) => Promise<Map<string, O | { ok: false; error: string }>>) {
  const groups = new Map<string, PlacedTenant[]>();
  for (const t of tenants) (groups.get(t.region) ?? groups.set(t.region, []).get(t.region)!).push(t);
  const out = new Map<string, O | { ok: false; error: string }>();
  await Promise.all([...groups].map(async ([region, ts]) => {
    try {
      for (const [id, o] of await work(region, ts)) out.set(id, o);
    } catch (err) {
      for (const t of ts) out.set(t.tenantId, { ok: false, error: String((err as Error)?.message ?? err).slice(0, 500) });
    }
  }));
  return out;
}
