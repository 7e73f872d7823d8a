/**
 * The last step of a tenant deletion (see deletion.ts): once its grace has passed, no router can
 * still send the deleted tenant a request, so its storage fence can go. Before lifting it, what is
 * left is counted; anything (a write that raced the fence) is dropped again by deprovisioning,
 * which fences first, so nothing slips in between. Each purge is recorded in the audit log.
 */
import { leftoverCount, type Placement } from '../provisioning/provisioner.js';
import { appendAudit } from './audit.js';
import { db } from './db.js';
import type { ControlServices } from './services.js';
import { forgetMoves } from '../moves/forget.js';
import { forgetBackups } from '../backups/forget.js';

/** While a runner works on a purge, others leave it alone for this long. */
const LEASE = "interval '5 minutes'";

export interface PendingPurge { tenant_id: string; slug: string; placement: Placement; attempts: number }

/** Lifts the fences whose grace has passed; returns how many purges completed and failed. */
export async function runDuePurges(s: ControlServices, limit = 10): Promise<{ purged: number; failed: number }> {
  // Claiming pushes due_at on by the lease, so concurrent runners take different rows.
  const rows = await db(() => s.sql.query(
    `UPDATE pending_unfences SET due_at = now() + ${LEASE}, attempts = attempts + 1 WHERE tenant_id IN (
       SELECT tenant_id FROM pending_unfences WHERE due_at <= now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING tenant_id, slug, placement, attempts`, [limit])) as PendingPurge[];
  let purged = 0;
  for (const r of rows) if (await settlePurge(s, r)) purged++;
  return { purged, failed: rows.length - purged };
}

/** Completes one claimed purge; on failure records the error and backs off (the fence stays: safe, just not released). */
export async function settlePurge(s: ControlServices, r: PendingPurge): Promise<boolean> {
  try {
    const left = await s.provisioner.leftovers(r.tenant_id, r.placement);
    const redone = leftoverCount(left) > 0;
    if (redone) await s.provisioner.deprovision(r.tenant_id, r.placement);
    // Floors and fences its moves left in other databases, and their records.
    const moves = await forgetMoves(s, r.tenant_id, r.placement);
    // Its backups (unreadable since its data key went with it): objects, then rows.
    const backups = await forgetBackups(s, r.tenant_id);
    await s.provisioner.unfence(r.tenant_id, r.placement);
    // Its id keys (value and epoch) name the tenant: they go too. The slug's may be a new tenant's now.
    await s.cache.forget?.([{ kind: 'id', value: r.tenant_id }]);
    // Its alert telemetry (EWMA baselines, counter snapshots) goes too; its alerts stay, like its audit entries.
    await db(() => s.sql.transaction([
      s.sql.query('DELETE FROM alert_baselines WHERE tenant_id = $1::uuid', [r.tenant_id]),
      s.sql.query('DELETE FROM alert_snapshots WHERE tenant_id = $1', [r.tenant_id]),
      s.sql.query('DELETE FROM tenant_operations WHERE tenant_id = $1::uuid', [r.tenant_id]),
      s.sql.query('DELETE FROM pending_unfences WHERE tenant_id = $1', [r.tenant_id]),
    ]));
    await appendAudit(s.sql, { actor: 'system:maintenance', action: 'tenant.purged', tenantId: r.tenant_id, detail: { slug: r.slug, leftovers: left, redone, ...(moves > 0 ? { moves } : {}), ...(backups > 0 ? { backups } : {}) } });
    return true;
  } catch (err) {
    const error = String((err as Error)?.message ?? err).slice(0, 300);
    console.error(JSON.stringify({ level: 'error', msg: 'purge failed; retried later', tenant: r.tenant_id, error }));
    // A minute per attempt, at most an hour.
    await s.sql.query(
      'UPDATE pending_unfences SET last_error = $2, due_at = now() + make_interval(secs => least(3600, 60 * $3::int)) WHERE tenant_id = $1',
      [r.tenant_id, error, r.attempts]).catch(() => {});
    return false;
  }
}
