/**
 * The alert rules' pure parts: EWMA baselines and z-scores, warm-up, hysteresis, deduplication
 * of findings into transitions, interval collection from the aggregator's totals, the threshold
 * rules (a slow region among them), Standard Webhooks signing against the specification's own
 * example, the retry schedule, remediation per tier and the configuration's checks.
 */
import { describe, expect, it } from 'vitest';
import { anomalyFindings, judge, Z_OPEN } from '../../src/alerts/anomaly.js';
import { collect, MIN_INTERVAL_MS } from '../../src/alerts/collect.js';
import { decide } from '../../src/alerts/decide.js';
import { EMPTY_BASELINE, updateBaseline, WARMUP_SAMPLES, zScore, type Baseline } from '../../src/alerts/ewma.js';
import { NO_STREAK, step, verdictOf, type Streak } from '../../src/alerts/hysteresis.js';
import { suggestRemediation } from '../../src/alerts/remediation.js';
import { keyOf, quotaFinding, RULES, thresholdFindings, type Finding } from '../../src/alerts/rules.js';
import { deltaOf, p95Of, signalsOf } from '../../src/alerts/signals.js';
import { tierRoots } from '../../src/alerts/terms.js';
import { backoffSeconds, MAX_ATTEMPTS, secretKey, signedHeaders } from '../../src/alerts/webhook.js';
import { parseControlConfig } from '../../src/control/env.js';
import { controlEnv } from '../control/in-process.js';

/** A deterministic pseudo-random sequence (mulberry32), for noisy but repeatable traffic. */
function rng(seed: number) {
  return () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

/** Counters of one interval: `ok` 2xx, `bad` 401 INVALID_TOKEN, `limited` 429, `e5` 503, all under 10 ms unless `slowMs`. */
function interval(ok: number, f: { bad?: number; limited?: number; e5?: number; slowMs?: number } = {}): Record<string, number> {
  const total = ok + (f.bad ?? 0) + (f.limited ?? 0) + (f.e5 ?? 0);
  const c: Record<string, number> = { 'requests|class=2xx': ok, latency_count: total };
  if (f.bad) { c['requests|class=4xx'] = f.bad; c['refusals|status=401,code=INVALID_TOKEN'] = f.bad; }
  if (f.limited) { c['requests|class=4xx'] = (c['requests|class=4xx'] ?? 0) + f.limited; c['refusals|status=429,code=RATE_LIMITED'] = f.limited; }
  if (f.e5) { c['requests|class=5xx'] = f.e5; c['refusals|status=503,code=UPSTREAM_UNAVAILABLE'] = f.e5; }
  c[f.slowMs ? `latency_bucket|le=${f.slowMs <= 250 ? '0.25' : '0.5'}` : 'latency_bucket|le=0.01'] = total;
  return c;
}

describe('EWMA baselines and z-scores', () => {
  it('takes the first sample as the mean, then moves a tenth of the way per sample, with a variance that follows the spread', () => {
    let b = updateBaseline(EMPTY_BASELINE, 10);
    expect(b).toEqual({ mean: 10, variance: 0, samples: 1 });
    b = updateBaseline(b, 20);
    expect(b.mean).toBeCloseTo(11, 10);
    expect(b.variance).toBeCloseTo(0.9 * (0 + 10 * 1), 10);
    for (let i = 0; i < 200; i++) b = updateBaseline(b, i % 2 ? 12 : 8);
    expect(b.mean).toBeGreaterThan(9.5);
    expect(b.mean).toBeLessThan(10.5);
    expect(Math.sqrt(b.variance)).toBeGreaterThan(1.5);
    expect(Math.sqrt(b.variance)).toBeLessThan(2.5);
    expect(updateBaseline(b, Number.NaN)).toBe(b);
  });

  it('floors the standard deviation, so a perfectly steady signal does not make every wobble infinite', () => {
    const steady: Baseline = { mean: 0.01, variance: 0, samples: 50 };
    expect(zScore(steady, 0.03, 0.02)).toBeCloseTo(1, 10);
    expect(zScore(steady, 0.01, 0.02)).toBe(0);
    expect(zScore({ mean: 5, variance: 4, samples: 20 }, 15, 1)).toBeCloseTo(5, 10);
  });

  it('does not judge during warm-up, judges after it, and keeps a breaching sample out of the baseline', () => {
    let b = EMPTY_BASELINE;
    for (let i = 0; i < WARMUP_SAMPLES; i++) {
      const j = judge('auth_failures', b, 0.9, 90);
      expect(j.verdict).toBe('hold');
      b = j.next;
    }
    expect(b.samples).toBe(WARMUP_SAMPLES);
    // Warmed up on 0.9 (its normal), 0.9 is no anomaly.
    expect(judge('auth_failures', b, 0.9, 90).verdict).toBe('clear');
    const calm = { mean: 0.01, variance: 0.0001, samples: 30 };
    const spike = judge('auth_failures', calm, 0.6, 60);
    expect(spike.verdict).toBe('breach');
    expect(spike.z).toBeGreaterThanOrEqual(Z_OPEN);
    expect(spike.next).toBe(calm);
    // The same ratio from too few events is no attack; a drop is never an anomaly.
    expect(judge('auth_failures', calm, 0.6, 6).verdict).not.toBe('breach');
    expect(judge('request_rate', { mean: 100, variance: 25, samples: 30 }, 5, 5).verdict).toBe('clear');
    // Too little traffic for a ratio: clear, baseline untouched.
    expect(judge('error_ratio', calm, null, 0)).toEqual({ verdict: 'clear', z: null, next: calm });
  });
});

describe('hysteresis', () => {
  const h = { openAfter: 2, resolveAfter: 3 };
  it('opens after openAfter breaches in a row, touches while open, resolves after resolveAfter clears in a row', () => {
    let s: Streak = NO_STREAK;
    const run = (v: 'breach' | 'clear' | 'hold', open: boolean) => { const r = step(s, v, open, h); s = r.streak; return r.transition; };
    expect(run('breach', false)).toBeNull();
    expect(run('breach', false)).toBe('open');
    expect(run('breach', true)).toBe('touch');
    expect(run('clear', true)).toBeNull();
    expect(run('hold', true)).toBeNull();
    expect(run('clear', true)).toBeNull();
    expect(run('breach', true)).toBe('touch');
    expect(s).toEqual({ breach: 1, clear: 0 });
    expect(run('clear', true)).toBeNull();
    expect(run('clear', true)).toBeNull();
    expect(run('clear', true)).toBe('resolve');
    expect(s).toEqual(NO_STREAK);
  });

  it('does not flap on a value hovering between the thresholds', () => {
    let s: Streak = NO_STREAK;
    let open = true;
    for (const v of [0.04, 0.03, 0.045, 0.021, 0.049, 0.03]) {
      const r = step(s, verdictOf(v, 0.05, 0.02), open, h);
      s = r.streak;
      if (r.transition === 'resolve') open = false;
    }
    expect(open).toBe(true);
    expect(verdictOf(null, 1, 0)).toBe('hold');
  });
});

describe('deduplication and transitions (decide)', () => {
  const f = (over: Partial<Finding> = {}): Finding => ({ rule: 'error_ratio', scope: 'tenant', tenantId: 't1', region: 'r1', verdict: 'breach', summary: 's', detail: {}, ...over });
  const all = new Set(Object.keys(RULES) as (keyof typeof RULES)[]);

  it('takes one finding per key, opens once the streak is long enough, and touches an open alert instead of opening another', () => {
    const key = keyOf(f());
    const first = decide([f(), f()], new Map(), new Map(), all);
    expect(first.opens).toEqual([]);
    expect(first.streaks).toEqual([{ dedup_key: key, breach: 1, clear: 0 }]);
    const second = decide([f()], new Map([[key, { breach: 1, clear: 0 }]]), new Map(), all);
    expect(second.opens.length).toBe(1);
    const open = new Map([[key, { id: 'a1', rule: 'error_ratio' }]]);
    const third = decide([f(), f()], new Map([[key, { breach: 2, clear: 0 }]]), open, all);
    expect(third.opens).toEqual([]);
    expect(third.touches).toEqual(['a1']);
  });

  it('counts an open alert without a finding as clear when its rule was evaluated, and holds it when not', () => {
    const key = keyOf(f());
    const open = new Map([[key, { id: 'a1', rule: 'error_ratio' }]]);
    const streaks = new Map([[key, { breach: 0, clear: 2 }]]);
    expect(decide([], streaks, open, all).resolves.map((a) => a.id)).toEqual(['a1']);
    const held = decide([], streaks, open, new Set(['quota_near_exhaustion'] as const));
    expect(held.resolves).toEqual([]);
    expect(held.dropStreaks).toEqual([]);
    // A breach streak that missed a run is broken.
    expect(decide([], new Map([[key, { breach: 1, clear: 0 }]]), new Map(), all).dropStreaks).toEqual([key]);
  });
});

describe('signals and intervals', () => {
  it('subtracts totals, refuses a delta of counters that went down, and reads the signals of an interval', () => {
    expect(deltaOf({ a: 5, b: 2 }, { a: 3, b: 2 })).toEqual({ a: 2 });
    expect(deltaOf({ a: 1 }, { a: 3 })).toBeNull();
    expect(deltaOf({ a: 1 }, { a: 1, b: 4 })).toBeNull();
    const s = signalsOf({
      ...interval(80, { bad: 10, limited: 5, e5: 5 }),
      'refusals|status=403,code=TENANT_MISMATCH': 3, 'requests|class=4xx': 18,
      'refusals|status=503,code=TENANT_SUSPENDED': 2, 'requests|class=5xx': 7,
      'breaker|target=shared,state=open': 4, 'guard|outcome=fail_open': 1,
    });
    expect(s).toMatchObject({ requests: 105, errors5xx: 5, authFailures: 13, limited: 5, failOpen: 1, breakerOpen: { shared: 4, dedicated: 0 }, rare: { TENANT_MISMATCH: 3 } });
    expect(p95Of({ 'latency_bucket|le=0.01': 90, 'latency_bucket|le=0.25': 10 })).toBeGreaterThan(0.1);
    expect(p95Of({})).toBeNull();
  });

  it('collects intervals per shard: none on first sight, none from a shard read too recently, none from one that did not answer', () => {
    const t = (tenantId: string, requests: number) => ({ tenantId, slug: 's', region: 'r1', counters: { 'requests|class=2xx': requests } });
    const A = '00000000-0000-4000-8000-00000000000a';
    const now = 10 * 60_000;
    const first = collect([[t(A, 5), t('none', 3)], null], new Map(), {}, now);
    expect(first.intervals).toEqual([]);
    expect(first.snapshots.map((x) => x.tenant_id)).toEqual([A]);
    expect(first.shardReadAt).toEqual({ 0: now });
    expect(first.unavailable).toBe(1);
    const snaps = new Map([[`${A}\nr1`, { 'requests|class=2xx': 5 }]]);
    const next = collect([[t(A, 35)]], snaps, first.shardReadAt, now + 120_000);
    expect(next.intervals).toEqual([{ tenantId: A, region: 'r1', minutes: 2, delta: { 'requests|class=2xx': 30 } }]);
    const soon = collect([[t(A, 40)]], snaps, first.shardReadAt, now + MIN_INTERVAL_MS - 1);
    expect(soon).toMatchObject({ intervals: [], snapshots: [], tooSoon: 1 });
    // Unchanged counters: no write at all.
    expect(collect([[t(A, 5)]], snaps, first.shardReadAt, now + 60_000).snapshots).toEqual([]);
  });
});

describe('threshold rules', () => {
  it('judges a slow region against the SLO, with the error ratio of both a tenant and a region, and only with enough requests', () => {
    const slow = thresholdFindings(signalsOf(interval(40, { slowMs: 200 })), { scope: 'region', tenantId: null, region: 'eu', sloSeconds: 0.1 });
    expect(slow.find((x) => x.rule === 'latency_p95')).toMatchObject({ verdict: 'breach', scope: 'region', region: 'eu' });
    expect(slow.find((x) => x.rule === 'error_ratio')?.verdict).toBe('clear');
    expect(slow.some((x) => x.rule === 'guard_fail_open')).toBe(false);
    const fast = thresholdFindings(signalsOf(interval(40)), { scope: 'tenant', tenantId: 't', region: 'eu', sloSeconds: 0.1 });
    expect(fast.map((x) => x.verdict)).toEqual(['clear', 'clear', 'clear', 'clear']);
    const failing = thresholdFindings(signalsOf(interval(30, { e5: 10 })), { scope: 'tenant', tenantId: 't', region: 'eu', sloSeconds: 0.1 });
    expect(failing[0]).toMatchObject({ rule: 'error_ratio', verdict: 'breach', severity: 'critical' });
    const few = thresholdFindings(signalsOf(interval(5, { e5: 5, slowMs: 500 })), { scope: 'tenant', tenantId: 't', region: 'eu', sloSeconds: 0.1 });
    expect(few.slice(0, 2).map((x) => x.verdict)).toEqual(['clear', 'clear']);
  });

  it('opens the quota rule at 90% of the included requests, critical once a hard cap is reached, and clears below 85%', () => {
    expect(quotaFinding('t', 95, 100, false)).toMatchObject({ verdict: 'breach' });
    expect(quotaFinding('t', 100, 100, true)).toMatchObject({ verdict: 'breach', severity: 'critical' });
    expect(quotaFinding('t', 87, 100, false).verdict).toBe('hold');
    expect(quotaFinding('t', 80, 100, false).verdict).toBe('clear');
  });
});

describe('traffic patterns through the anomaly rules', () => {
  /** Runs `intervals` through the anomaly rules with the hysteresis, as the scheduled run does; returns the opened and resolved rules per step. */
  function simulate(intervals: Record<string, number>[]) {
    let baselines: Record<string, Baseline> = {};
    let streaks = new Map<string, Streak>();
    let open = new Map<string, { id: string; rule: string }>();
    const log: { opened: string[]; resolved: string[] }[] = [];
    for (const c of intervals) {
      const a = anomalyFindings('t', signalsOf(c), 1, baselines);
      baselines = a.baselines;
      const d = decide(a.findings, streaks, open, new Set(Object.keys(RULES) as (keyof typeof RULES)[]));
      streaks = new Map([...streaks].filter(([k]) => !d.dropStreaks.includes(k)));
      for (const s of d.streaks) streaks.set(s.dedup_key, { breach: s.breach, clear: s.clear });
      for (const f of d.opens) open.set(keyOf(f), { id: f.rule, rule: f.rule });
      for (const r of d.resolves) open = new Map([...open].filter(([, v]) => v !== r));
      log.push({ opened: d.opens.map((f) => f.rule), resolved: d.resolves.map((r) => r.rule) });
    }
    return log;
  }

  it('never alerts on a steady tenant with ordinary noise, over 500 minutes', () => {
    const r = rng(7);
    const steady = Array.from({ length: 500 }, () => interval(40 + Math.floor(r() * 20), { bad: r() < 0.2 ? 1 : 0, limited: r() < 0.1 ? 1 : 0 }));
    expect(simulate(steady).flatMap((x) => x.opened)).toEqual([]);
  });

  it('opens credential stuffing on a burst of bad tokens after warm-up (not during it), and resolves it three calm minutes later', () => {
    const r = rng(11);
    const calm = () => interval(25 + Math.floor(r() * 5));
    const burstDuringWarmup = [calm(), interval(25, { bad: 200 }), ...Array.from({ length: 10 }, calm)];
    expect(simulate(burstDuringWarmup).flatMap((x) => x.opened)).toEqual([]);
    const log = simulate([...Array.from({ length: 12 }, calm), interval(25, { bad: 200 }), calm(), calm(), calm()]);
    expect(log[12]!.opened.sort()).toEqual(['anomaly_auth_failures', 'anomaly_request_rate']);
    expect(log.slice(0, 12).flatMap((x) => x.opened)).toEqual([]);
    expect(log[13]!.resolved).toEqual([]);
    expect(log[14]!.resolved).toEqual([]);
    expect(log[15]!.resolved.sort()).toEqual(['anomaly_auth_failures', 'anomaly_request_rate']);
  });

  it('opens the 429 and 5xx ratio anomalies on their own bursts', () => {
    const calm = Array.from({ length: 12 }, () => interval(50));
    expect(simulate([...calm, interval(50, { limited: 40 })]).at(-1)!.opened).toContain('anomaly_rate_limited');
    expect(simulate([...calm, interval(50, { e5: 30 })]).at(-1)!.opened).toContain('anomaly_error_ratio');
  });
});

describe('webhook signing and retries', () => {
  it("signs as the Standard Webhooks specification's example does", async () => {
    const key = secretKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')!;
    const h = await signedHeaders(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(h).toEqual({ 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' });
  });

  it('accepts only whsec_ secrets of 24 to 64 bytes', () => {
    expect(secretKey('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeNull();
    expect(secretKey(`whsec_${btoa('short')}`)).toBeNull();
    expect(secretKey('whsec_not base64!')).toBeNull();
    expect(secretKey(`whsec_${btoa('x'.repeat(32))}`)?.length).toBe(32);
  });

  it('backs off exponentially from 30 s, capped at an hour, for MAX_ATTEMPTS attempts', () => {
    expect([1, 2, 3, 4, 7, 8, 9].map(backoffSeconds)).toEqual([30, 60, 120, 240, 1920, 3600, 3600]);
    expect(MAX_ATTEMPTS).toBe(10);
  });

  it('refuses a webhook URL that is not https (loopback http aside) or has no secret', () => {
    const secret = `whsec_${btoa('k'.repeat(32))}`;
    expect(() => parseControlConfig(controlEnv({ ALERT_WEBHOOK_URL: 'http://hooks.example.com/x', ALERT_WEBHOOK_SECRET: secret }))).toThrow(/ALERT_WEBHOOK_URL: must be https/);
    expect(() => parseControlConfig(controlEnv({ ALERT_WEBHOOK_URL: 'https://hooks.example.com/x' }))).toThrow(/ALERT_WEBHOOK_SECRET is required/);
    expect(() => parseControlConfig(controlEnv({ ALERT_WEBHOOK_URL: 'https://hooks.example.com/x', ALERT_WEBHOOK_SECRET: 'hunter2hunter2hunter2hunter2' }))).toThrow(/ALERT_WEBHOOK_SECRET: must be whsec_/);
    expect(parseControlConfig(controlEnv({ ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/hook', ALERT_WEBHOOK_SECRET: secret })).ALERT_WEBHOOK_URL).toBe('http://127.0.0.1:9/hook');
  });
});

describe('remediation per tier', () => {
  it('suspends FREE, tightens STANDARD and PREMIUM to a quarter, leaves contract tiers and non-abuse rules alone', () => {
    expect(suggestRemediation('anomaly_auth_failures', { tierRoot: 'FREE', ratePerMinute: 60, burst: 20 })).toMatchObject({ action: 'suspend', state: 'suggested' });
    expect(suggestRemediation('anomaly_request_rate', { tierRoot: 'STANDARD', ratePerMinute: 600, burst: 100 })).toEqual({ action: 'tighten_rate', params: { ratePerMinute: 150, burst: 25 }, state: 'suggested' });
    expect(suggestRemediation('anomaly_auth_failures', { tierRoot: 'ENTERPRISE', ratePerMinute: 12000, burst: 2000 })).toBeNull();
    expect(suggestRemediation('error_ratio', { tierRoot: 'FREE', ratePerMinute: 60, burst: 20 })).toBeNull();
    expect(suggestRemediation('anomaly_auth_failures', null)).toBeNull();
  });

  it('finds the built-in root of a template chain', () => {
    const roots = tierRoots([
      { name: 'FREE', based_on: null, builtin: true }, { name: 'GOLD', based_on: 'SILVER', builtin: false },
      { name: 'SILVER', based_on: 'FREE', builtin: false }, { name: 'ORPHAN', based_on: null, builtin: false },
    ]);
    expect(Object.fromEntries(roots)).toEqual({ FREE: 'FREE', GOLD: 'FREE', SILVER: 'FREE', ORPHAN: null });
  });
});
