/**
 * The maintenance run's part (src/control/maintenance.ts): backups due per tier, and retention.
 *
 * A tenant (active, with storage) is due when its template's policy (own or up its based_on
 * chain, migration 0017) has an interval and neither its last complete backup (manual ones
 * count) nor, before any, its creation is that interval old, and its last attempt backs it off
 * (dueTenants). At most `limit` per run, the least recently attempted first; a tenant another
 * operation holds is skipped (not a failure). Retention deletes expired backups' objects, then
 * their rows, and never a tenant's newest complete backup.
 */
import { AppError } from '../errors.js';
import { db } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { findTenant } from '../control/tenant-repo.js';
import { deleteObjects } from './bucket.js';
import { takeBackup } from './backup.js';
import { objectKey, POLICY_CTE, STALE_RUNNING, TOO_LARGE } from './store.js';

export interface ScheduleReport { taken: number; failed: number; skipped: number; expired: number }

/**
 * Tenants whose scheduled backup is due, the least recently attempted first. Every attempt counts,
 * whatever became of it: a failure waits 5 minutes, a tenant too large for a logical backup (413
 * BACKUP_TOO_LARGE) a whole interval, and a `running` one abandoned for 15 minutes counts as a
 * failure at its start (it does not come back at the head of the queue). A tenant whose one
 * operation claim is held (a move, restore, branch promotion or manual backup: tenant_operations)
 * is not due now.
 */
export async function dueTenants(s: ControlServices, limit: number): Promise<string[]> {
  const rows = await db(() => s.sql.query(`${POLICY_CTE}
    SELECT t.id FROM tenants t JOIN policy p ON p.name = t.tier JOIN tenant_placements pl ON pl.tenant_id = t.id
      CROSS JOIN LATERAL (SELECT max(b.taken_at) FILTER (WHERE b.status = 'complete') AS last, max(b.started_at) AS tried
                            FROM tenant_backups b WHERE b.tenant_id = t.id) l
     WHERE t.status = 'active' AND p.interval_seconds IS NOT NULL
       AND coalesce(l.last, t.created_at) <= now() - make_interval(secs => p.interval_seconds)
       AND NOT EXISTS (SELECT 1 FROM tenant_backups b WHERE b.tenant_id = t.id AND (
             (b.status = 'running' AND b.started_at > now() - ${STALE_RUNNING})
          OR (b.status IN ('failed', 'running') AND b.started_at > now() - interval '5 minutes')
          OR (b.status = 'failed' AND b.error LIKE '${TOO_LARGE}:%' AND b.started_at > now() - make_interval(secs => p.interval_seconds))))
       AND NOT EXISTS (SELECT 1 FROM tenant_operations o WHERE o.tenant_id = t.id AND o.expires_at > now())
     ORDER BY greatest(coalesce(l.last, t.created_at), l.tried) NULLS FIRST LIMIT $1`, [limit])) as { id: string }[];
  return rows.map((r) => r.id);
}

/** Takes the due backups (bounded) and applies retention (bounded). */
export async function runBackupSchedule(s: ControlServices, opts: { limit?: number; expireLimit?: number } = {}): Promise<ScheduleReport> {
  if (!s.backups) return { taken: 0, failed: 0, skipped: 0, expired: 0 };
  let taken = 0;
  let failed = 0;
  let skipped = 0;
  for (const id of await dueTenants(s, opts.limit ?? 5)) {
    const t = await findTenant(s.sql, id);
    if (!t) continue;
    try {
      await takeBackup(s, t, 'scheduled', 'system:maintenance', null);
      taken++;
    } catch (err) {
      // Another runner (or an admin) is taking this one, or a move/restore holds the tenant: not a failure.
      if (err instanceof AppError && (err.code === 'BACKUP_IN_PROGRESS' || err.code === 'OPERATION_IN_PROGRESS')) { skipped++; continue; }
      failed++;
      console.warn(JSON.stringify({ level: 'warn', msg: 'scheduled backup failed', tenant: id, error: String((err as Error)?.message ?? err).slice(0, 200) }));
    }
  }
  return { taken, failed, skipped, expired: await expireBackups(s, opts.expireLimit ?? 50) };
}

/** Deletes backups past their retention (object first, then row), never a tenant's newest complete one; how many. */
export async function expireBackups(s: ControlServices, limit: number): Promise<number> {
  const rows = await db(() => s.sql.query(
    `SELECT b.id, b.tenant_id AS "tenantId" FROM tenant_backups b WHERE b.expires_at <= now() AND b.status <> 'running'
       AND b.id IS DISTINCT FROM (SELECT n.id FROM tenant_backups n WHERE n.tenant_id = b.tenant_id AND n.status = 'complete' ORDER BY n.taken_at DESC, n.id LIMIT 1)
     ORDER BY b.expires_at LIMIT $1`, [limit])) as { id: string; tenantId: string }[];
  if (rows.length === 0) return 0;
  await deleteObjects(s.backups!, rows.map((r) => objectKey(r.tenantId, r.id)));
  await db(() => s.sql.query('DELETE FROM tenant_backups WHERE id = ANY ($1::uuid[])', [rows.map((r) => r.id)]));
  return rows.length;
}
