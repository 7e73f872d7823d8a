/** The control table of backups (migration 0017): one row per backup, and each tier's schedule. */
import { AppError } from '../errors.js';
import { db, type Sql } from '../control/db.js';
import type { BackupTable } from './format.js';

export type BackupKind = 'manual' | 'scheduled';

export interface BackupRecord {
  id: string;
  tenantId: string;
  kind: BackupKind;
  status: 'running' | 'complete' | 'failed';
  startedAt: string;
  takenAt: string | null;
  finishedAt: string | null;
  isolation: 'row' | 'schema' | 'database' | null;
  tables: BackupTable[] | null;
  rows: number | null;
  bytes: number | null;
  sha256: string | null;
  keyId: string | null;
  error: string | null;
  expiresAt: string | null;
}

/** The object of a backup in the bucket. */
export const objectKey = (tenantId: string, backupId: string): string => `backups/${tenantId}/${backupId}`;
/** Every backup object of a tenant. */
export const tenantPrefix = (tenantId: string): string => `backups/${tenantId}/`;

/** A `running` backup older than this belongs to a worker that died: the next backup takes over. */
export const STALE_RUNNING = "interval '15 minutes'";
/** The prefix of a failed backup's error when the tenant was too large (413): the schedule waits a whole interval. */
export const TOO_LARGE = 'BACKUP_TOO_LARGE';
/** Retention of a tenant whose template has no policy. */
export const DEFAULT_RETENTION_DAYS = 7;

const COLUMNS = `id, tenant_id AS "tenantId", kind, status, started_at AS "startedAt", taken_at AS "takenAt", finished_at AS "finishedAt",
  isolation, tables, row_count AS rows, bytes::float8 AS bytes, sha256, key_id AS "keyId", error, expires_at AS "expiresAt"`;

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const record = (r: Record<string, unknown>): BackupRecord => ({
  ...(r as unknown as BackupRecord),
  startedAt: iso(r.startedAt)!, takenAt: iso(r.takenAt), finishedAt: iso(r.finishedAt), expiresAt: iso(r.expiresAt),
});

/**
 * The schedule of every template: its own policy or the nearest one up its based_on chain
 * (a SQL fragment naming `policy(name, interval_seconds, retention_days)`).
 */
export const POLICY_CTE = `WITH RECURSIVE chain(name, tier, depth) AS (
    SELECT name, name, 0 FROM tiers
    UNION ALL SELECT c.name, t.based_on, c.depth + 1 FROM chain c JOIN tiers t ON t.name = c.tier WHERE t.based_on IS NOT NULL AND c.depth < 20
  ), policy AS (
    SELECT DISTINCT ON (c.name) c.name, p.interval_seconds, p.retention_days
      FROM chain c JOIN tier_backup_policies p ON p.tier = c.tier ORDER BY c.name, c.depth)`;

/** Claims a backup of the tenant (one at a time; a stale `running` one is failed first); 409 BACKUP_IN_PROGRESS. */
export async function claimBackup(sql: Sql, tenantId: string, kind: BackupKind): Promise<string> {
  const id = crypto.randomUUID();
  await db(() => sql.query(`UPDATE tenant_backups SET status = 'failed', error = 'abandoned (the worker taking it stopped)', finished_at = now()
                              WHERE tenant_id = $1 AND status = 'running' AND started_at < now() - ${STALE_RUNNING}`, [tenantId]));
  try {
    await sql.query(`${POLICY_CTE}
      INSERT INTO tenant_backups (id, tenant_id, kind, status, expires_at)
      SELECT $1, t.id, $3, 'running', now() + make_interval(days => coalesce(p.retention_days, ${DEFAULT_RETENTION_DAYS}))
        FROM tenants t LEFT JOIN policy p ON p.name = t.tier WHERE t.id = $2`, [id, tenantId, kind]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new AppError(409, 'BACKUP_IN_PROGRESS', 'a backup of this tenant is being taken; retry when it is done', { 'Retry-After': '10' });
    throw err;
  }
  return id;
}

export interface Completed { takenAt: string; isolation: 'row' | 'schema' | 'database'; tables: BackupTable[]; rows: number; bytes: number; sha256: string; keyId: string }

export async function completeBackup(sql: Sql, id: string, c: Completed): Promise<BackupRecord> {
  const [r] = await db(() => sql.query(`UPDATE tenant_backups SET status = 'complete', finished_at = now(), taken_at = $2, isolation = $3, tables = $4,
      row_count = $5, bytes = $6, sha256 = $7, key_id = $8 WHERE id = $1 RETURNING ${COLUMNS}`,
  [id, c.takenAt, c.isolation, JSON.stringify(c.tables), c.rows, c.bytes, c.sha256, c.keyId])) as Record<string, unknown>[];
  return record(r!);
}

export async function failBackup(sql: Sql, id: string, error: string): Promise<void> {
  await db(() => sql.query("UPDATE tenant_backups SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1", [id, error.slice(0, 500)]));
}

/** One backup of the tenant (another tenant's id is not found). */
export async function findBackup(sql: Sql, tenantId: string, id: string): Promise<BackupRecord | null> {
  const [r] = await db(() => sql.query(`SELECT ${COLUMNS} FROM tenant_backups WHERE id = $1 AND tenant_id = $2`, [id, tenantId])) as Record<string, unknown>[];
  return r ? record(r) : null;
}

/** The tenant's backups, newest first. */
export async function listBackups(sql: Sql, tenantId: string, limit = 100): Promise<BackupRecord[]> {
  const rows = await db(() => sql.query(`SELECT ${COLUMNS} FROM tenant_backups WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT $2`, [tenantId, limit])) as Record<string, unknown>[];
  return rows.map(record);
}

/** The tenant's wrapped data key, or null when it is gone (erased or deleted: its backups can never be opened). */
export async function wrappedKeyOf(sql: Sql, tenantId: string): Promise<string | null> {
  const [r] = await db(() => sql.query('SELECT wrapped FROM tenant_keys WHERE tenant_id = $1', [tenantId])) as { wrapped: string }[];
  return r?.wrapped ?? null;
}
