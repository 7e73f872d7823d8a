/**
 * The rules (pure): the catalogue with each rule's severity and hysteresis, and the threshold
 * rules over one interval's signals, per tenant and region and per region over all its tenants.
 * Every evaluation is a Finding with a verdict; the run (run.ts) turns verdicts into opened,
 * touched and resolved alerts through the hysteresis (hysteresis.ts). docs/alerts.md lists them.
 */
import type { Hysteresis, Verdict } from './hysteresis.js';
import { verdictOf } from './hysteresis.js';
import type { Signals } from './signals.js';

export type Severity = 'info' | 'warning' | 'critical';
export type Scope = 'tenant' | 'region' | 'platform';

export interface RuleSpec extends Hysteresis { severity: Severity; description: string }

export const RULES = {
  error_ratio: { severity: 'warning', openAfter: 2, resolveAfter: 3, description: '5xx ratio ≥ 5% (resolves below 2%)' },
  latency_p95: { severity: 'warning', openAfter: 2, resolveAfter: 3, description: "p95 latency over the tier's SLO (resolves at 80% of it)" },
  breaker_open: { severity: 'critical', openAfter: 1, resolveAfter: 3, description: 'a database circuit breaker answered open' },
  guard_fail_open: { severity: 'warning', openAfter: 1, resolveAfter: 3, description: 'the quota guard could not be asked and requests were admitted unmetered' },
  quota_near_exhaustion: { severity: 'warning', openAfter: 1, resolveAfter: 1, description: 'monthly requests ≥ 90% of the included quota (resolves below 85%)' },
  audit_chain_broken: { severity: 'critical', openAfter: 1, resolveAfter: 1, description: "the audit log's hash chain does not verify" },
  anomaly_request_rate: { severity: 'warning', openAfter: 1, resolveAfter: 3, description: 'request rate z ≥ 4 over its EWMA baseline' },
  anomaly_error_ratio: { severity: 'warning', openAfter: 1, resolveAfter: 3, description: '5xx ratio z ≥ 4 over its EWMA baseline' },
  anomaly_auth_failures: { severity: 'critical', openAfter: 1, resolveAfter: 3, description: '401/403 ratio z ≥ 4 over its EWMA baseline (credential stuffing)' },
  anomaly_rate_limited: { severity: 'warning', openAfter: 1, resolveAfter: 3, description: '429 ratio z ≥ 4 over its EWMA baseline' },
} as const satisfies Record<string, RuleSpec>;

export type RuleName = keyof typeof RULES;

/** An interval needs this many requests before a ratio or a percentile of it is judged. */
export const MIN_REQUESTS = 20;
export const ERROR_RATIO_OPEN = 0.05;
export const ERROR_RATIO_CLEAR = 0.02;
/** The p95 latency SLO, per built-in tier (templates take their built-in root's); the 100 ms for all. */
export const SLO_P95_SECONDS: Record<string, number> = {
  FREE: 0.1, STANDARD: 0.1, PREMIUM: 0.1, ENTERPRISE: 0.1, ENTERPRISE_PLUS: 0.1, WHITE_LABEL: 0.1,
};
export const DEFAULT_SLO_P95_SECONDS = 0.1;
/** A latency alert resolves once p95 is below this share of the SLO. */
export const SLO_CLEAR_SHARE = 0.8;
export const QUOTA_OPEN = 0.9;
export const QUOTA_CLEAR = 0.85;

/** One rule's judgement of one scope in one run. */
export interface Finding {
  rule: RuleName;
  scope: Scope;
  tenantId: string | null;
  region: string | null;
  verdict: Verdict;
  summary: string;
  detail: Record<string, unknown>;
  /** Overrides the rule's severity (e.g. a quota already exhausted). */
  severity?: Severity;
}

/** The deduplication key: one unresolved alert per rule and scope. */
export const keyOf = (f: Pick<Finding, 'rule' | 'scope' | 'tenantId' | 'region'>): string =>
  `${f.rule}|${f.scope}|${f.tenantId ?? '-'}|${f.region ?? '-'}`;

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (s: number) => `${Math.round(s * 1000)} ms`;

/** The threshold rules over one interval of one scope (a tenant in a region, or a region). */
export function thresholdFindings(sig: Signals, where: { scope: 'tenant' | 'region'; tenantId: string | null; region: string; sloSeconds: number }): Finding[] {
  const base = { scope: where.scope, tenantId: where.tenantId, region: where.region };
  const whom = where.scope === 'tenant' ? `tenant in ${where.region}` : `region ${where.region}`;
  const enough = sig.requests >= MIN_REQUESTS;
  const out: Finding[] = [];
  const ratio = enough ? sig.errors5xx / sig.requests : null;
  out.push({
    ...base, rule: 'error_ratio', verdict: enough ? verdictOf(ratio, ERROR_RATIO_OPEN, ERROR_RATIO_CLEAR) : 'clear',
    summary: `5xx ratio ${pct(ratio ?? 0)} of ${sig.requests} requests (${whom})`,
    detail: { ratio, errors: sig.errors5xx, requests: sig.requests, openAt: ERROR_RATIO_OPEN, clearBelow: ERROR_RATIO_CLEAR },
    ...(ratio !== null && ratio >= 0.25 ? { severity: 'critical' as const } : {}),
  });
  const p95 = enough ? sig.p95 : null;
  out.push({
    ...base, rule: 'latency_p95', verdict: enough ? verdictOf(p95, where.sloSeconds + 1e-9, where.sloSeconds * SLO_CLEAR_SHARE) : 'clear',
    summary: `p95 latency ${ms(p95 ?? 0)} against an SLO of ${ms(where.sloSeconds)} (${whom})`,
    detail: { p95Seconds: p95, sloSeconds: where.sloSeconds, requests: sig.requests },
  });
  const opens = where.scope === 'region' ? sig.breakerOpen.shared : sig.breakerOpen.dedicated;
  out.push({
    ...base, rule: 'breaker_open', verdict: opens > 0 ? 'breach' : 'clear',
    summary: where.scope === 'region' ? `the shared database breaker of ${where.region} answered open ${opens} times` : `the tenant's dedicated database breaker answered open ${opens} times`,
    detail: { openVerdicts: opens, target: where.scope === 'region' ? `db:${where.region}` : `db:${where.tenantId}` },
  });
  if (where.scope === 'tenant') {
    out.push({
      ...base, rule: 'guard_fail_open', verdict: sig.failOpen > 0 ? 'breach' : 'clear',
      summary: `${sig.failOpen} requests admitted without the quota guard (fail open)`,
      detail: { failOpen: sig.failOpen, requests: sig.requests },
    });
  }
  return out;
}

/** The quota rule of one tenant: `used` of `included` monthly requests. */
export function quotaFinding(tenantId: string, used: number, included: number, hardCap: boolean): Finding {
  const share = included > 0 ? used / included : 0;
  return {
    rule: 'quota_near_exhaustion', scope: 'tenant', tenantId, region: null, verdict: verdictOf(share, QUOTA_OPEN, QUOTA_CLEAR),
    summary: `${pct(share)} of the monthly quota used (${used} of ${included} requests${hardCap ? ', hard cap' : ''})`,
    detail: { used, included, share, hardCap },
    ...(share >= 1 && hardCap ? { severity: 'critical' as const } : {}),
  };
}

/** The audit-chain rule: the scheduled verification's outcome. */
export function auditFinding(r: { ok: boolean; checked: number; brokenAt: number | null; reason: string | null }): Finding {
  return {
    rule: 'audit_chain_broken', scope: 'platform', tenantId: null, region: null, verdict: r.ok ? 'clear' : 'breach',
    summary: r.ok ? `audit chain verified (${r.checked} entries)` : `audit chain broken at entry ${r.brokenAt}: ${r.reason}`,
    detail: { checked: r.checked, brokenAt: r.brokenAt, reason: r.reason },
  };
}

/** The SLO of a tier's built-in root, in seconds; `overrideMs` (ALERT_SLO_P95_MS) replaces every tier's. */
export const sloOf = (tierRoot: string | null, overrideMs?: number): number =>
  (overrideMs ? overrideMs / 1000 : (tierRoot && SLO_P95_SECONDS[tierRoot]) || DEFAULT_SLO_P95_SECONDS);
