/**
 * Custom hostnames in bulk: the maintenance run's check of due domains (bounded per run, pending
 * ones backed off by their age, active ones daily, see status.ts) and the removal of a deleted tenant's
 * hostnames at Cloudflare.
 */
import { AppError } from '../errors.js';
import type { ControlServices } from '../control/services.js';
import { findTenant } from '../control/tenant-repo.js';
import { refreshDomain } from './lifecycle.js';
import { claimDue, tenantHostnameIds } from './store.js';

/** Domains checked per maintenance run: a minute's cron tick stays short even with a slow API. */
export const REFRESH_BATCH = 10;

/**
 * All of one run's Cloudflare calls share this deadline: a slow API cannot stretch a run past it
 * (each call alone is bounded by CLOUDFLARE_API_TIMEOUT_MS as well). Domains not reached wait for
 * the next run, like those after a 503.
 */
export const REFRESH_BUDGET_MS = 20_000;

export interface RefreshReport { checked: number; activated: number; failed: number; errors: number; skipped: number }

/**
 * Checks the due domains (at most `limit`). A domain's own refusal does not stop the others; a
 * 503 (Cloudflare down, timed out, rate limiting, our token refused) ends the batch there: the
 * next would only wait for the same outage; so does the run's deadline passing (`budgetMs` for
 * all its Cloudflare calls together). The rest were claimed and come up again in 2 minutes.
 */
export async function refreshDue(isolate: ControlServices, limit = REFRESH_BATCH, budgetMs = REFRESH_BUDGET_MS): Promise<RefreshReport> {
  const report: RefreshReport = { checked: 0, activated: 0, failed: 0, errors: 0, skipped: 0 };
  if (!isolate.hostnames) return report;
  const s: ControlServices = { ...isolate, hostnames: isolate.hostnames.within(budgetMs) };
  const due = await claimDue(s.sql, limit);
  for (const [i, d] of due.entries()) {
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
      if (err instanceof AppError && err.status >= 500) {
        report.skipped = due.length - i - 1;
        break;
      }
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
