/**
 * Custom hostnames in bulk: the maintenance run's check of pending domains (bounded per run,
 * each domain backed off by its age, see status.ts) and the removal of a deleted tenant's
 * hostnames at Cloudflare.
 */
import { AppError } from '../errors.js';
import type { ControlServices } from '../control/services.js';
import { findTenant } from '../control/tenant-repo.js';
import { refreshDomain } from './lifecycle.js';
import { claimDue, tenantHostnameIds } from './store.js';

/** Pending domains checked per maintenance run: a minute's cron tick stays short even with a slow API. */
export const REFRESH_BATCH = 10;

export interface RefreshReport { checked: number; activated: number; failed: number; errors: number }

/** Checks the due pending domains (at most `limit`); one domain's failure does not stop the others. */
export async function refreshDue(s: ControlServices, limit = REFRESH_BATCH): Promise<RefreshReport> {
  const report: RefreshReport = { checked: 0, activated: 0, failed: 0, errors: 0 };
  if (!s.hostnames) return report;
  for (const d of await claimDue(s.sql, limit)) {
    try {
      const t = await findTenant(s.sql, d.tenantId);
      if (!t) continue;
      const after = await refreshDomain(s, t, d);
      report.checked++;
      if (after.status === 'active') report.activated++;
      if (after.status === 'failed') report.failed++;
    } catch (err) {
      report.errors++;
      console.warn(JSON.stringify({ level: 'warn', msg: 'custom hostname check failed', hostname: d.hostname, error: String((err as Error)?.message ?? err).slice(0, 200) }));
    }
  }
  return report;
}

/** Deletes every custom hostname of tenant `id` at Cloudflare (already gone counts as done); 503 if Cloudflare cannot be reached. */
export async function removeTenantHostnames(s: ControlServices, id: string): Promise<number> {
  if (!s.hostnames) return 0;
  const rows = await tenantHostnameIds(s.sql, id);
  for (const r of rows) {
    try {
      await s.hostnames.remove(r.cloudflareId);
    } catch (err) {
      const why = err instanceof AppError ? err.message : String(err);
      throw new AppError(503, 'UPSTREAM_UNAVAILABLE', `custom hostname ${r.hostname} could not be removed at Cloudflare (${why.slice(0, 120)}); repeat the delete`, { 'Retry-After': '5' });
    }
  }
  return rows.length;
}
