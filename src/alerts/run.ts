/**
 * The alerts part of the scheduled run: read the metrics shards' totals, turn them into the
 * interval since the last run (collect.ts), judge every tenant and region with the threshold
 * rules and every tenant with the anomaly rules, check monthly quotas and (when due) the audit
 * chain, step the hysteresis (decide.ts), save the state, then open, touch and resolve alerts
 * (each with its audit entry and webhook delivery), audit the interval's rare refusals per tenant,
 * and send the due webhook deliveries. `now` is the run's clock (injectable: tests step it).
 * One run at a time (a lease); every part bounded.
 */
import { verifyAudit, appendAudit } from '../control/audit.js';
import type { ControlServices } from '../control/services.js';
import { monthOf } from '../control/usage.js';
import { readTotalsByShard } from '../metrics/reader.js';
import { anomalyFindings, type SignalName } from './anomaly.js';
import { collect } from './collect.js';
import { decide } from './decide.js';
import { deliverDue, type DeliveryReport } from './deliveries.js';
import { suggestRemediation } from './remediation.js';
import { auditFinding, quotaFinding, RULES, sloOf, thresholdFindings, type Finding, type RuleName } from './rules.js';
import { signalsOf, sumCounters } from './signals.js';
import { claimRun, loadBaselines, loadSnapshots, loadStreaks, releaseRun, saveState, type Progress } from './state.js';
import { ALERTS_ACTOR, openAlert, resolveAlert, touchAlerts, unresolvedAlerts, type AlertView, type Notify } from './store.js';
import { loadTenants, quotaUse, type TenantInfo } from './terms.js';
import { secretKey } from './webhook.js';

export interface AlertsReport {
  skipped?: string;
  intervals: number;
  opened: number;
  resolved: number;
  touched: number;
  shardsUnavailable: number;
  securityEntries: number;
  auditVerified: boolean | null;
  deliveries: DeliveryReport | null;
}

/** At most this many alerts are opened, and security entries written, per run (the rest next run: their streaks persist). */
const MAX_WRITES = 100;
const METRIC_RULES: RuleName[] = ['error_ratio', 'latency_p95', 'breaker_open', 'guard_fail_open', 'anomaly_request_rate', 'anomaly_error_ratio', 'anomaly_auth_failures', 'anomaly_rate_limited'];

/** One evaluation at `now`. */
export async function runAlerts(s: ControlServices, opts: { now?: number; fetcher?: typeof fetch } = {}): Promise<AlertsReport> {
  const now = opts.now ?? Date.now();
  const report: AlertsReport = { intervals: 0, opened: 0, resolved: 0, touched: 0, shardsUnavailable: 0, securityEntries: 0, auditVerified: null, deliveries: null };
  const progress = await claimRun(s.sql);
  if (!progress) return { ...report, skipped: 'another run holds the lease' };
  try {
    await evaluate(s, now, progress, report);
  } finally {
    await releaseRun(s.sql).catch(() => { /* the lease expires on its own */ });
  }
  const target = webhookTarget(s);
  if (target) report.deliveries = await deliverDue(s.sql, target, now, { fetcher: opts.fetcher });
  return report;
}

async function evaluate(s: ControlServices, now: number, progress: Progress, report: AlertsReport): Promise<void> {
  const findings: Finding[] = [];
  const evaluated = new Set<RuleName>();
  const next: Progress = { ...progress };
  const security: { tenantId: string; counts: Record<string, number>; regions: string[]; seconds: number }[] = [];
  let snapshots: { tenant_id: string; region: string; counters: Record<string, number> }[] = [];
  let baselines: { tenant_id: string; signal: string; mean: number; variance: number; samples: number }[] = [];
  let tenants = new Map<string, TenantInfo>();

  if (s.aggregator) {
    const c = collect(await readTotalsByShard(s.aggregator), await loadSnapshots(s.sql), progress.shardReadAt, now);
    snapshots = c.snapshots;
    next.shardReadAt = c.shardReadAt;
    report.shardsUnavailable = c.unavailable;
    report.intervals = c.intervals.length;
    if (c.unavailable === 0 && c.tooSoon === 0) for (const r of METRIC_RULES) evaluated.add(r);
    const ids = [...new Set(c.intervals.map((i) => i.tenantId))];
    tenants = await loadTenants(s.sql, ids);
    const stored = await loadBaselines(s.sql, ids);
    const byRegion = new Map<string, Record<string, number>[]>();
    for (const i of c.intervals) {
      const t = tenants.get(i.tenantId);
      byRegion.set(i.region, [...(byRegion.get(i.region) ?? []), i.delta]);
      if (!t) continue;
      findings.push(...thresholdFindings(signalsOf(i.delta), { scope: 'tenant', tenantId: t.id, region: i.region, sloSeconds: sloOf(t.tierRoot, s.config.ALERT_SLO_P95_MS) }));
    }
    for (const [region, parts] of byRegion) findings.push(...thresholdFindings(signalsOf(sumCounters(parts)), { scope: 'region', tenantId: null, region, sloSeconds: sloOf(null, s.config.ALERT_SLO_P95_MS) }));
    for (const id of ids) {
      if (!tenants.has(id)) continue;
      const mine = c.intervals.filter((i) => i.tenantId === id);
      const sig = signalsOf(sumCounters(mine.map((i) => i.delta)));
      const before = Object.fromEntries((['request_rate', 'error_ratio', 'auth_failures', 'rate_limited'] as SignalName[])
        .map((n) => [n, stored.get(`${id}\n${n}`)]).filter(([, b]) => b !== undefined));
      const a = anomalyFindings(id, sig, mine[0]!.minutes, before);
      findings.push(...a.findings);
      for (const [signal, b] of Object.entries(a.baselines)) baselines.push({ tenant_id: id, signal, ...b });
      if (Object.keys(sig.rare).length > 0) security.push({ tenantId: id, counts: sig.rare, regions: mine.map((i) => i.region), seconds: Math.round(mine[0]!.minutes * 60) });
    }
  }

  for (const q of await quotaUse(s.sql, monthOf(now))) findings.push(quotaFinding(q.tenantId, q.used, q.included, q.hardCap));
  evaluated.add('quota_near_exhaustion');

  if (progress.auditVerifiedAt === null || now - progress.auditVerifiedAt >= s.config.ALERT_AUDIT_VERIFY_SECONDS * 1000) {
    const v = await verifyAudit(s.sql);
    findings.push(auditFinding(v));
    evaluated.add('audit_chain_broken');
    report.auditVerified = v.ok;
    next.auditVerifiedAt = now;
  }

  const unresolved = await unresolvedAlerts(s.sql);
  const d = decide(findings, await loadStreaks(s.sql), unresolved, evaluated);
  await saveState(s.sql, { snapshots, baselines, streaks: d.streaks, dropStreaks: d.dropStreaks }, now, next);

  const at = new Date(now);
  for (const f of d.opens.slice(0, MAX_WRITES)) {
    const id = crypto.randomUUID();
    const severity = f.severity ?? RULES[f.rule].severity;
    const remediation = f.tenantId ? suggestRemediation(f.rule, tenants.get(f.tenantId) ?? null) : null;
    const view: AlertView = {
      id, rule: f.rule, scope: f.scope, tenantId: f.tenantId, region: f.region, severity, state: 'open', openedAt: at.toISOString(), lastSeenAt: at.toISOString(),
      resolvedAt: null, acknowledgedAt: null, acknowledgedBy: null, occurrences: 1, summary: f.summary.slice(0, 500), detail: f.detail, remediation,
    };
    if (await openAlert(s.sql, id, f, severity, remediation, at, notify(s, 'alert.opened', view, at))) report.opened++;
  }
  for (const a of d.resolves) {
    if (await resolveAlert(s.sql, a, at, notify(s, 'alert.resolved', { ...a, state: 'resolved', resolvedAt: at.toISOString() }, at))) report.resolved++;
  }
  await touchAlerts(s.sql, d.touches, at);
  report.touched = d.touches.length;

  for (const e of security.slice(0, MAX_WRITES)) {
    await appendAudit(s.sql, { actor: ALERTS_ACTOR, action: 'security.refusals', tenantId: e.tenantId, detail: { counts: e.counts, regions: e.regions, intervalSeconds: e.seconds } });
    report.securityEntries++;
  }
}

function webhookTarget(s: ControlServices) {
  const { ALERT_WEBHOOK_URL: url, ALERT_WEBHOOK_SECRET: secret, ALERT_WEBHOOK_TIMEOUT_MS: timeoutMs } = s.config;
  const key = url && secret ? secretKey(secret) : null;
  return url && key ? { url, key, timeoutMs } : null;
}

/** The delivery of one event, when a webhook is configured: Standard Webhooks' envelope around the alert. */
function notify(s: ControlServices, type: 'alert.opened' | 'alert.resolved', alert: AlertView, at: Date): Notify | null {
  if (!webhookTarget(s)) return null;
  return { webhookId: `msg_${alert.id}_${type === 'alert.opened' ? 'opened' : 'resolved'}`, payload: { type, timestamp: at.toISOString(), data: alert }, dueAt: at };
}
