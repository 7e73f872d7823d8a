/**
 * The tenant migrations the control plane applies: a forward-only catalogue (a name never changes
 * its text) and each tenant's progress through it, so `tenantctl migrate` can stop and resume.
 */
import { AppError } from '../errors.js';
import type { CataloguedMigration } from '../migrations/batch-runner.js';
import { sha256, type Migration } from '../migrations/runner.js';
import { db, type Sql } from './db.js';

/** Adds `name` to the catalogue; an existing name with other text is a 409. */
export async function catalogue(sql: Sql, name: string, text: string): Promise<'created' | 'unchanged'> {
  const checksum = await sha256(text);
  const rows = await db(() => sql.query(
    `WITH ins AS (INSERT INTO tenant_migration_catalog (name, sql, checksum) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT checksum FROM tenant_migration_catalog WHERE name = $1) AS existing`,
    [name, text, checksum])) as { inserted: string | number; existing: string | null }[];
  if (Number(rows[0]!.inserted) === 1) return 'created';
  if (rows[0]!.existing !== checksum) throw new AppError(409, 'MIGRATION_CONFLICT', `${name} is catalogued with different text; migrations are forward-only`);
  return 'unchanged';
}

/**
 * Gives catalogued `name` its `down` (run by a rollback, newest first). Forward-only too: set once,
 * the same text again is "unchanged", other text a 409; an unknown name is a 404.
 */
export async function catalogueDown(sql: Sql, name: string, text: string): Promise<'created' | 'unchanged'> {
  const checksum = await sha256(text);
  const rows = await db(() => sql.query(
    `WITH upd AS (UPDATE tenant_migration_catalog SET down_sql = $2, down_checksum = $3 WHERE name = $1 AND down_sql IS NULL RETURNING 1)
     SELECT (SELECT count(*) FROM upd) AS updated, (SELECT down_checksum FROM tenant_migration_catalog WHERE name = $1) AS existing,
            EXISTS (SELECT 1 FROM tenant_migration_catalog WHERE name = $1) AS known`,
    [name, text, checksum])) as { updated: string | number; existing: string | null; known: boolean }[];
  const r = rows[0]!;
  if (!r.known) throw new AppError(404, 'NOT_FOUND', `${name} is not catalogued; catalogue it before its down`);
  if (Number(r.updated) === 1) return 'created';
  if (r.existing !== checksum) throw new AppError(409, 'MIGRATION_CONFLICT', `${name} has a different down catalogued; migrations are forward-only`);
  return 'unchanged';
}

/** The whole catalogue in name order, with checksums and downs (the fleet path). */
export async function loadFullCatalogue(sql: Sql): Promise<CataloguedMigration[]> {
  return await db(() => sql.query('SELECT name, sql, checksum, down_sql AS down FROM tenant_migration_catalog ORDER BY name')) as CataloguedMigration[];
}

/** The whole catalogue in name order. */
export async function loadCatalogue(sql: Sql): Promise<Migration[]> {
  return await db(() => sql.query('SELECT name, sql FROM tenant_migration_catalog ORDER BY name')) as Migration[];
}

export async function listCatalogue(sql: Sql): Promise<{ name: string; checksum: string; hasDown: boolean; createdAt: string }[]> {
  return await db(() => sql.query('SELECT name, checksum, down_sql IS NOT NULL AS "hasDown", created_at AS "createdAt" FROM tenant_migration_catalog ORDER BY name')) as { name: string; checksum: string; hasDown: boolean; createdAt: string }[];
}

/** Records the outcome of migrating one tenant. */
export async function recordMigration(sql: Sql, tenantId: string, applied: string | null, error: string | null): Promise<void> {
  await db(() => sql.query(
    `INSERT INTO tenant_migration_status (tenant_id, applied, state, error) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id) DO UPDATE SET applied = coalesce($2, tenant_migration_status.applied), state = $3, error = $4, updated_at = now()`,
    [tenantId, applied, error ? 'failed' : 'current', error])) ;
}

/** One tenant's recorded outcome: `applied` null keeps the one recorded before. */
export interface MigrationRecord { tenantId: string; applied: string | null; state: 'current' | 'failed' | 'migrating'; error: string | null }

/** Records many outcomes in one statement (the fleet path). */
export async function recordMigrations(sql: Sql, records: MigrationRecord[]): Promise<void> {
  if (records.length === 0) return;
  await db(() => sql.query(
    `INSERT INTO tenant_migration_status (tenant_id, applied, state, error)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT (tenant_id) DO UPDATE SET applied = coalesce(excluded.applied, tenant_migration_status.applied),
       state = excluded.state, error = excluded.error, updated_at = now()`,
    [records.map((r) => r.tenantId), records.map((r) => r.applied), records.map((r) => r.state), records.map((r) => r.error)]));
}

/** Sets what a rolled-back tenant has again (its newest remaining migration, null for none). */
export async function recordReverted(sql: Sql, reverted: { tenantId: string; head: string | null }[]): Promise<void> {
  if (reverted.length === 0) return;
  await db(() => sql.query(
    `UPDATE tenant_migration_status m SET applied = r.head, state = 'current', error = 'rolled back', updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS r (tenant_id, head) WHERE m.tenant_id = r.tenant_id`,
    [reverted.map((r) => r.tenantId), reverted.map((r) => r.head)]));
}

export type MigrationState = 'current' | 'pending' | 'failed' | 'migrating';
export interface StatusFilter { state?: MigrationState; limit: number; cursor?: string }

/**
 * Per-tenant status against the catalogue's last migration: `current` (has it), `failed` (the last
 * attempt failed), `migrating` (its batch is being applied), `pending` (anything else). Listing
 * `pending` includes the failed and the migrating ones (a run that died mid-batch leaves them so;
 * the next run takes them again, and the per-target advisory lock keeps two runs from racing).
 * Tenants being deleted are left out.
 */
export async function migrationStatus(sql: Sql, f: StatusFilter) {
  const rows = await db(() => sql.query(
    `WITH head AS (SELECT max(name) AS name FROM tenant_migration_catalog),
     s AS (SELECT t.id, t.slug, m.applied, m.error,
             CASE WHEN m.state IN ('failed', 'migrating') THEN m.state WHEN m.applied IS NOT DISTINCT FROM (SELECT name FROM head) THEN 'current' ELSE 'pending' END AS state
           FROM tenants t LEFT JOIN tenant_migration_status m ON m.tenant_id = t.id WHERE t.status NOT IN ('deleting', 'provisioning'))
     SELECT id AS "tenantId", slug, applied, state, error FROM s
      WHERE ($1::text IS NULL OR state = $1 OR ($1 = 'pending' AND state IN ('failed', 'migrating'))) AND ($2::uuid IS NULL OR id > $2::uuid)
      ORDER BY id LIMIT $3`,
    [f.state ?? null, f.cursor ?? null, f.limit + 1])) as { tenantId: string; slug: string; applied: string | null; state: MigrationState; error: string | null }[];
  const page = rows.slice(0, f.limit);
  const counts = await db(() => sql.query(
    `WITH head AS (SELECT max(name) AS name FROM tenant_migration_catalog)
     SELECT count(*) FILTER (WHERE m.state = 'failed') AS failed, count(*) FILTER (WHERE m.state = 'migrating') AS migrating,
            count(*) FILTER (WHERE coalesce(m.state, 'current') = 'current' AND m.applied IS NOT DISTINCT FROM (SELECT name FROM head)) AS current,
            count(*) AS total
       FROM tenants t LEFT JOIN tenant_migration_status m ON m.tenant_id = t.id WHERE t.status NOT IN ('deleting', 'provisioning')`)) as Record<string, string>[];
  const c = counts[0]!;
  const summary = {
    total: Number(c.total), current: Number(c.current), failed: Number(c.failed), migrating: Number(c.migrating),
    pending: Number(c.total) - Number(c.current) - Number(c.failed) - Number(c.migrating),
  };
  return { tenants: page, nextCursor: rows.length > f.limit ? page[page.length - 1]!.tenantId : null, summary };
}
