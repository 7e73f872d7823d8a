/**
 * Every place the platform keeps something of a tenant, and how to count it: the control
 * database's tables (by tenant id; the idempotency keys whose path or answer names it), the
 * tenant's storage (the provisioner's leftovers: rows, schema, role, database), the routers'
 * cache keys (through the invalidator, when it can tell) and its TenantGuard object. Used by the
 * erase (before, to say what it removed; after, to prove nothing is left) and by the export.
 */
import { db, type Sql } from '../control/db.js';

/** Control tables holding rows of a tenant, keyed by its id (each query's text is fixed; the id is a parameter). */
export const CONTROL_TABLES: Record<string, string> = {
  tenants: 'SELECT count(*)::int AS n FROM tenants WHERE id = $1::uuid',
  tenant_domains: 'SELECT count(*)::int AS n FROM tenant_domains WHERE tenant_id = $1::uuid',
  tenant_jwt: 'SELECT count(*)::int AS n FROM tenant_jwt WHERE tenant_id = $1::uuid',
  tenant_geo: 'SELECT count(*)::int AS n FROM tenant_geo WHERE tenant_id = $1::uuid',
  tenant_placements: 'SELECT count(*)::int AS n FROM tenant_placements WHERE tenant_id = $1::uuid',
  tenant_keys: 'SELECT count(*)::int AS n FROM tenant_keys WHERE tenant_id = $1::uuid',
  tenant_storage: 'SELECT count(*)::int AS n FROM tenant_storage WHERE tenant_id = $1::uuid',
  tenant_storage_attempts: 'SELECT count(*)::int AS n FROM tenant_storage_attempts WHERE tenant_id = $1::uuid',
  tenant_migration_status: 'SELECT count(*)::int AS n FROM tenant_migration_status WHERE tenant_id = $1::uuid',
  usage_flushes: 'SELECT count(*)::int AS n FROM usage_flushes WHERE tenant_id = $1::uuid',
  tenant_archive: 'SELECT count(*)::int AS n FROM tenant_archive WHERE id = $1::uuid',
  tenant_backups: 'SELECT count(*)::int AS n FROM tenant_backups WHERE tenant_id = $1::uuid',
  pending_unfences: 'SELECT count(*)::int AS n FROM pending_unfences WHERE tenant_id = $1::uuid',
  tenant_operations: 'SELECT count(*)::int AS n FROM tenant_operations WHERE tenant_id = $1::uuid',
  // The alerts' telemetry of the tenant (its alerts themselves stay, like its audit entries).
  alert_baselines: 'SELECT count(*)::int AS n FROM alert_baselines WHERE tenant_id = $1::uuid',
  alert_snapshots: 'SELECT count(*)::int AS n FROM alert_snapshots WHERE tenant_id = $1',
  // Kept answers of idempotent POSTs about the tenant (its view, its domains).
  idempotency_keys: "SELECT count(*)::int AS n FROM idempotency_keys WHERE strpos(path, $1) > 0 OR strpos(coalesce(body, ''), $1) > 0",
};

/** Rows of the tenant per control table. */
export async function countControlRows(sql: Sql, tenantId: string): Promise<Record<string, number>> {
  const names = Object.keys(CONTROL_TABLES);
  const results = await db(() => sql.transaction(names.map((n) => sql.query(CONTROL_TABLES[n]!, [tenantId])))) as { n: number }[][];
  return Object.fromEntries(names.map((n, i) => [n, results[i]![0]!.n]));
}
