/**
 * The tenant migrations the control plane applies: a forward-only catalogue (a name never changes
 * its text) and each tenant's progress through it, so `tenantctl migrate` can stop and resume.
 */
import { AppError } from '../errors.js';
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

/** The whole catalogue in name order. */
export async function loadCatalogue(sql: Sql): Promise<Migration[]> {
  return await db(() => sql.query('SELECT name, sql FROM tenant_migration_catalog ORDER BY name')) as Migration[];
}

export async function listCatalogue(sql: Sql): Promise<{ name: string; checksum: string; createdAt: string }[]> {
  return await db(() => sql.query('SELECT name, checksum, created_at AS "createdAt" FROM tenant_migration_catalog ORDER BY name')) as { name: string; checksum: string; createdAt: string }[];
}

/** Records the outcome of migrating one tenant. */
export async function recordMigration(sql: Sql, tenantId: string, applied: string | null, error: string | null): Promise<void> {
  await db(() => sql.query(
    `INSERT INTO tenant_migration_status (tenant_id, applied, state, error) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id) DO UPDATE SET applied = coalesce($2, tenant_migration_status.applied), state = $3, error = $4, updated_at = now()`,
    [tenantId, applied, error ? 'failed' : 'current', error])) ;
}

export interface StatusFilter { state?: 'current' | 'pending' | 'failed'; limit: number; cursor?: string }

/**
 * Per-tenant status against the catalogue's last migration: `current` (has it), `failed` (the last
 * attempt failed), `pending` (anything else). Tenants being deleted are left out.
 */
export async function migrationStatus(sql: Sql, f: StatusFilter) {
  const rows = await db(() => sql.query(
    `WITH head AS (SELECT max(name) AS name FROM tenant_migration_catalog),
     s AS (SELECT t.id, t.slug, m.applied, m.error,
             CASE WHEN m.state = 'failed' THEN 'failed' WHEN m.applied IS NOT DISTINCT FROM (SELECT name FROM head) THEN 'current' ELSE 'pending' END AS state
           FROM tenants t LEFT JOIN tenant_migration_status m ON m.tenant_id = t.id WHERE t.status NOT IN ('deleting', 'provisioning'))
     SELECT id AS "tenantId", slug, applied, state, error FROM s
      WHERE ($1::text IS NULL OR state = $1 OR ($1 = 'pending' AND state = 'failed')) AND ($2::uuid IS NULL OR id > $2::uuid)
      ORDER BY id LIMIT $3`,
    [f.state ?? null, f.cursor ?? null, f.limit + 1])) as { tenantId: string; slug: string; applied: string | null; state: 'current' | 'pending' | 'failed'; error: string | null }[];
  const page = rows.slice(0, f.limit);
  const counts = await db(() => sql.query(
    `WITH head AS (SELECT max(name) AS name FROM tenant_migration_catalog)
     SELECT count(*) FILTER (WHERE m.state = 'failed') AS failed,
            count(*) FILTER (WHERE m.state IS DISTINCT FROM 'failed' AND m.applied IS NOT DISTINCT FROM (SELECT name FROM head)) AS current,
            count(*) AS total
       FROM tenants t LEFT JOIN tenant_migration_status m ON m.tenant_id = t.id WHERE t.status NOT IN ('deleting', 'provisioning')`)) as Record<string, string>[];
  const c = counts[0]!;
  const summary = { total: Number(c.total), current: Number(c.current), failed: Number(c.failed), pending: Number(c.total) - Number(c.current) - Number(c.failed) };
  return { tenants: page, nextCursor: rows.length > f.limit ? page[page.length - 1]!.tenantId : null, summary };
}
