/**
 * The maintenance run's part (src/control/maintenance.ts): backups due per tier, and retention.
 *
 * A tenant (active, with storage) is due when its template's policy (own or up its based_on
 * chain, migration 0017) has an interval and neither its last complete backup (manual ones
 * count) nor, before any, its creation is that interval old, and no backup of it failed in the
 * last five minutes (a failing tenant is retried, not hammered). At most `limit` per run, the
 * longest-waiting first. Retention deletes expired backups' objects, then their rows.
 */
import { AppError } from '../errors.js';
import { db } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { findTenant } from '../control/tenant-repo.js';
import { deleteObjects } from './bucket.js';
import { takeBackup } from './backup.js';
import { objectKey, POLICY_CTE } from './store.js';

export interface ScheduleReport { taken: number; failed: number; expired: number }

/** Tenants whose scheduled backup is due, the longest-waiting first. */
export async function dueTenants(s: ControlServices, limit: number): Promise<string[]> {
  const rows = await db(() => s.sql.query(`${POLICY_CTE}
    SELECT t.id FROM tenants t JOIN policy p ON p.name = t.tier JOIN tenant_placements pl ON pl.tenant_id = t.id
      CROSS JOIN LATERAL (SELECT max(b.taken_at) AS last FROM tenant_backups b WHERE b.tenant_id = t.id AND b.status = 'complete') l
     WHERE t.status = 'active' AND p.interval_seconds IS NOT NULL
       AND coalesce(l.last, t.created_at) <= now() - make_interval(secs => p.interval_seconds)
       AND NOT EXISTS (SELECT 1 FROM tenant_backups b WHERE b.tenant_id = t.id
                        AND (b.status = 'running' OR (b.status = 'failed' AND b.started_at > now() - interval '5 minutes')))
     ORDER BY coalesce(l.last, t.created_at) LIMIT $1`, [limit])) as { id: string }[];
  return rows.map((r) => r.id);
}

/** Takes the due backups (bounded) and applies retention (bounded). */
export async function runBackupSchedule(s: ControlServices, opts: { limit?: number; expireLimit?: number } = {}): Promise<ScheduleReport> {
  if (!s.backups) return { taken: 0, failed: 0, expired: 0 };
  let taken = 0;
  let failed = 0;
  for (const id of await dueTenants(s, opts.limit ?? 5)) {
    const t = await findTenant(s.sql, id);
    if (!t) continue;
    try {
      await takeBackup(s, t, 'scheduled', 'system:maintenance', null);
      taken++;
    } catch (err) {
      // Another runner (or an admin) is taking this one: not a failure.
      if (err instanceof AppError && err.code === 'BACKUP_IN_PROGRESS') continue;
      failed++;
      console.warn(JSON.stringify({ level: 'warn', msg: 'scheduled backup failed', tenant: id, error: String((err as Error)?.message ?? err).slice(0, 200) }));
    }
  }
  return { taken, failed, expired: await expireBackups(s, opts.expireLimit ?? 50) };
}

/** Deletes backups past their retention (object first, then row); how many. */
export async function expireBackups(s: ControlServices, limit: number): Promise<number> {
  const rows = await db(() => s.sql.query(
    `SELECT id, tenant_id AS "tenantId" FROM tenant_backups WHERE expires_at <= now() AND status <> 'running' ORDER BY expires_at LIMIT $1`, [limit])) as { id: string; tenantId: string }[];
  if (rows.length === 0) return 0;
  await deleteObjects(s.backups!, rows.map((r) => objectKey(r.tenantId, r.id)));
  await db(() => s.sql.query('DELETE FROM tenant_backups WHERE id = ANY ($1::uuid[])', [rows.map((r) => r.id)]));
  return rows.length;
}
