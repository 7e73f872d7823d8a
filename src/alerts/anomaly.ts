/**
 * Anomaly detection per tenant without magic (pure): four signals of each interval, each against
 * the tenant's own EWMA baseline (ewma.ts). A signal is judged only once its baseline is warm
 * (WARMUP_SAMPLES intervals) and only upwards (a spike, never a quiet spell); it breaches at
 * z ≥ Z_OPEN with enough events behind it and clears below Z_CLEAR (hysteresis.ts holds the
 * streaks). A breaching sample is not folded into the baseline: the anomaly must not become the
 * new normal while it lasts.
 */
import { updateBaseline, warmedUp, zScore, type Baseline, EMPTY_BASELINE } from './ewma.js';
import type { Verdict } from './hysteresis.js';
import { MIN_REQUESTS, type Finding, type RuleName } from './rules.js';
import type { Signals } from './signals.js';

export const Z_OPEN = 4;
export const Z_CLEAR = 2;
/** A ratio anomaly needs at least this many events of its kind in the interval (five 401s among 20 requests are not an attack). */
export const MIN_EVENTS = 10;
/** Ratios are floored at two percentage points of standard deviation. */
export const RATIO_SD_FLOOR = 0.02;

export type SignalName = 'request_rate' | 'error_ratio' | 'auth_failures' | 'rate_limited';

const RULE_OF: Record<SignalName, RuleName> = {
  request_rate: 'anomaly_request_rate', error_ratio: 'anomaly_error_ratio', auth_failures: 'anomaly_auth_failures', rate_limited: 'anomaly_rate_limited',
};
const LABEL: Record<SignalName, string> = {
  request_rate: 'request rate', error_ratio: '5xx ratio', auth_failures: '401/403 ratio', rate_limited: '429 ratio',
};

/** The value of each signal in an interval (null: too little traffic to judge), and the events behind it. */
export function sampleOf(sig: Signals, minutes: number): Record<SignalName, { value: number | null; events: number }> {
  const enough = sig.requests >= MIN_REQUESTS;
  const ratio = (n: number) => ({ value: enough ? n / sig.requests : null, events: n });
  return {
    request_rate: { value: minutes > 0 ? sig.requests / minutes : null, events: sig.requests },
    error_ratio: ratio(sig.errors5xx), auth_failures: ratio(sig.authFailures), rate_limited: ratio(sig.limited),
  };
}

const sdFloorOf = (name: SignalName, b: Baseline) =>
  (name === 'request_rate' ? Math.max(Math.sqrt(Math.max(0, b.mean)), 0.1 * b.mean, 1) : RATIO_SD_FLOOR);

/** One signal judged against its baseline; returns the verdict, the z-score and the baseline to keep. */
export function judge(name: SignalName, b: Baseline, value: number | null, events: number): { verdict: Verdict; z: number | null; next: Baseline } {
  // Too little traffic for a ratio: nothing to fear, nothing to learn from.
  if (value === null) return { verdict: 'clear', z: null, next: b };
  if (!warmedUp(b)) return { verdict: 'hold', z: null, next: updateBaseline(b, value) };
  const z = zScore(b, value, sdFloorOf(name, b));
  const minEvents = name === 'request_rate' ? MIN_REQUESTS : MIN_EVENTS;
  if (z >= Z_OPEN && events >= minEvents) return { verdict: 'breach', z, next: b };
  return { verdict: z < Z_CLEAR ? 'clear' : 'hold', z, next: updateBaseline(b, value) };
}

/** The anomaly findings of one tenant's interval, and its baselines after it. */
export function anomalyFindings(tenantId: string, sig: Signals, minutes: number, baselines: Partial<Record<SignalName, Baseline>>): { findings: Finding[]; baselines: Record<SignalName, Baseline> } {
  const sample = sampleOf(sig, minutes);
  const findings: Finding[] = [];
  const next = {} as Record<SignalName, Baseline>;
  for (const name of Object.keys(sample) as SignalName[]) {
    const b = baselines[name] ?? EMPTY_BASELINE;
    const { value, events } = sample[name];
    const j = judge(name, b, value, events);
    next[name] = j.next;
    const fmt = (v: number) => (name === 'request_rate' ? `${v.toFixed(1)}/min` : `${(v * 100).toFixed(1)}%`);
    const suffix = name === 'auth_failures' ? ': possible credential stuffing' : '';
    findings.push({
      rule: RULE_OF[name], scope: 'tenant', tenantId, region: null, verdict: j.verdict,
      summary: value === null ? `${LABEL[name]}: too little traffic to judge`
        : `${LABEL[name]} ${fmt(value)} against a baseline of ${fmt(b.mean)} (z ${j.z === null ? 'warming up' : j.z.toFixed(1)})${suffix}`,
      detail: {
        signal: name, value, events, requests: sig.requests, baselineMean: b.mean, baselineSd: Math.sqrt(b.variance),
        z: j.z, samples: b.samples, warm: warmedUp(b), zOpen: Z_OPEN, zClear: Z_CLEAR,
      },
    });
  }
  return { findings, baselines: next };
}
