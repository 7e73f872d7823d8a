/**
 * The control plane's maintenance run: cache invalidations left in the outbox, purges whose grace
 * has passed (lifting deleted tenants' storage fences), and this isolate's held summary of refused
 * calls. The Cron Trigger's run also checks pending custom hostnames at Cloudflare (a bounded
 * batch: API calls, which admin writes should not repeat) and resumes provisionings whose caller
 * died (a Neon provisioning can outlast the ~30 s a request's waitUntil is given, so it must not be
 * started from one), measures tenants' storage (src/storage/refresh.ts), takes the backups due per tier and deletes expired ones (src/backups/schedule.ts) and evaluates the alert
 * rules (src/alerts/run.ts: the metrics since the last run, quotas, the audit chain, webhook deliveries), see runScheduled. Maintenance runs from the Cron Trigger (every minute) and, in
 * the background, after every admin write, so a deferred invalidation is applied as soon as anything happens. Each part is bounded
 * per run and independent: one failing does not stop the others.
 */
import { appendAudit } from './audit.js';
import { flushOutbox } from './outbox.js';
import { runDuePurges } from './purge.js';
import { purgeExpiredKeys } from '../idempotency/store.js';
import { resumeProvisioning } from './provisioning.js';
import { refreshDue, type RefreshReport } from '../custom-hostnames/sweep.js';
import { refreshStorage, type StorageReport } from '../storage/refresh.js';
import { cleanMovedSources } from '../moves/move.js';
import { runAlerts, type AlertsReport } from '../alerts/run.js';
import { runBackupSchedule, type ScheduleReport } from '../backups/schedule.js';
import type { RefusalSummaryEntry } from './refusals.js';
import type { ControlServices } from './services.js';

export interface MaintenanceReport {
  outbox: { applied: number; failed: number } | { error: string };
  purges: { purged: number; failed: number } | { error: string };
  idempotencyKeys?: { expired: number } | { error: string };
}

/** The Cron Trigger's report: maintenance, resumed provisionings and the custom hostname checks. */
export interface ScheduledReport extends MaintenanceReport {
  provisioning: { resumed: number; failed: number } | { error: string };
  hostnames: RefreshReport | { error: string };
  /** Tenants' storage measured (src/storage/): who is over storage_mb, and their roles' connection limits. */
  storage: StorageReport | { error: string };
  /** Sources of moved tenants whose cleaning failed right after the move (src/moves/). */
  moves: { cleaned: number; failed: number } | { error: string };
  /** The alert rules (src/alerts/): intervals judged, alerts opened and resolved, webhook deliveries. */
  alerts: AlertsReport | { error: string };
  /** Scheduled backups per tier taken, and expired ones deleted (src/backups/). */
  backups: ScheduleReport | { error: string };
}

// Keyed by the isolate's control-database client: every request's services (forRequest) share it.
const running = new WeakMap<object, { run: Promise<MaintenanceReport>; since: number }>();
/**
 * A run joined later than this after its start is taken for dead: the request whose waitUntil
 * carried it may have been cut off (30 s after its answer), and then the run never settles.
 */
const RUN_BOUND_MS = 60_000;

/** Runs maintenance once; a call while a run is under way in this isolate joins it (for a bounded time). */
export function runMaintenance(s: ControlServices): Promise<MaintenanceReport> {
  const current = running.get(s.sql);
  if (current && Date.now() - current.since < RUN_BOUND_MS) return current.run;
  const entry = { run: maintain(s), since: Date.now() };
  const done = () => { if (running.get(s.sql) === entry) running.delete(s.sql); };
  entry.run.then(done, done);
  running.set(s.sql, entry);
  return entry.run;
}

/**
 * The Cron Trigger's run: maintenance, then the due pending custom hostnames (claimed, so runs
 * never overlap on one), storage, and the alert rules; `now` is the alert rules' clock (tests step it).
 */
export async function runScheduled(s: ControlServices, opts: { now?: number } = {}): Promise<ScheduledReport> {
  const report = await runMaintenance(s);
  const provisioning = await resumeProvisioning(s).catch(failed('provisioning'));
  const hostnames = await refreshDue(s).catch(failed('custom hostnames'));
  const storage = await refreshStorage(s).catch(failed('storage'));
  const moves = await cleanMovedSources(s).catch(failed('moves'));
  const alerts = await runAlerts(s, { now: opts.now }).catch(failed('alerts'));
  const backups = await runBackupSchedule(s).catch(failed('backups'));
  return { ...report, provisioning, hostnames, storage, moves, alerts, backups };
}

async function maintain(s: ControlServices): Promise<MaintenanceReport> {
  const outbox = await flushOutbox(s).catch(failed('outbox'));
  const purges = await runDuePurges(s).catch(failed('purges'));
  const idempotencyKeys = await purgeExpiredKeys(s.sql).catch(failed('idempotency keys'));
  const held = s.refusals.due();
  if (held) await recordRefusals(s, held, null);
  return { outbox, purges, idempotencyKeys };
}

const failed = (part: string) => (err: unknown) => {
  const error = String((err as Error)?.message ?? err).slice(0, 300);
  console.error(JSON.stringify({ level: 'error', msg: `maintenance: ${part} failed`, error }));
  return { error };
};

/** Writes one `metrics.reads` summary entry (counts by call, status and actor); a failed write goes back to be retried with the next. */
export async function recordMetricReads(s: ControlServices, e: RefusalSummaryEntry, actor: string, requestId: string | null): Promise<void> {
  try {
    await appendAudit(s.sql, { actor, action: 'metrics.reads', requestId, detail: { since: e.since, until: e.until, total: e.total, byCall: e.byReason } });
  } catch (err) {
    s.metricReads.restore(e);
    console.warn(JSON.stringify({ level: 'warn', msg: 'metrics read summary not written; kept for the next', error: String(err).slice(0, 200) }));
  }
}

/** Writes one `admin.refused` summary entry; a failed write goes back to be retried with the next. */
export async function recordRefusals(s: ControlServices, e: RefusalSummaryEntry, requestId: string | null): Promise<void> {
  try {
    await appendAudit(s.sql, { actor: 'anonymous', action: 'admin.refused', requestId, detail: { ...e } });
  } catch (err) {
    s.refusals.restore(e);
    console.warn(JSON.stringify({ level: 'warn', msg: 'refusal summary not written; kept for the next', error: String(err).slice(0, 200) }));
  }
}
