/**
 * A deterministic simulation of several isolates' LeasingRateLimiters against the pure guard
 * state (guard-ops.ts): the real limiter code, with the object calls held in flight until the
 * simulation delivers them (in any order across isolates), lost answers, and a virtual clock.
 */
import { LeasingRateLimiter, type LeaseSource } from '../../src/quota/leasing-limiter.js';
import { freshState, type GuardState } from '../../src/quota/guard-state.js';
import { lease, sync } from '../../src/quota/guard-ops.js';
import type { AdmitResult, HolderReport, LeaseGrant, LeaseRequest } from '../../src/quota/guard-types.js';
import type { Tenant } from '../../src/tenancy/tenant.js';

/** mulberry32: a small seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Req { iso: number; cost: number; maxRunning: number; minIdeal: number; result?: AdmitResult }
interface Call { iso: number; lease?: LeaseRequest; sync?: HolderReport; peakSinceSend: number; resolve: (v: LeaseGrant | undefined) => void; reject: (e: Error) => void }

export interface Iso { limiter: LeasingRateLimiter; running: Req[]; waiting: Set<Req>; holderId: string | null; peak: number }

/** What the object saw when it refused a lease for concurrency. */
export interface ConcurrencyRefusal { iso: number; inflight: number; othersPeak: number }

export class Sim {
  now = Date.UTC(2026, 4, 10, 12);
  readonly start = this.now;
  readonly state: GuardState = freshState('sim');
  readonly isos: Iso[] = [];
  readonly calls: Call[] = [];
  readonly objectRefusals: ConcurrencyRefusal[] = [];
  readonly background: Promise<void>[] = [];
  admittedUnits = 0;
  /** Body bytes the isolates metered (bandwidth), to compare with what the object counted. */
  readonly bytesMetered = { request: 0, response: 0 };
  private finished = 0;
  private timers: { at: number; fire: () => void }[] = [];
  private ids = 0;
  /** The ideal single-stream bucket: debited when a request is admitted. */
  private ideal: { tokens: number; at: number };

  constructor(readonly tenant: Tenant, isolates: number, readonly random: () => number) {
    const l = tenant.tier;
    this.ideal = { tokens: l.burst, at: this.now };
    for (let i = 0; i < isolates; i++) {
      const iso: Iso = { limiter: null!, running: [], waiting: new Set(), holderId: null, peak: 0 };
      iso.limiter = new LeasingRateLimiter(this.source(i), {
        now: () => this.now,
        sleep: (ms) => new Promise((r) => { this.timers.push({ at: this.now + ms, fire: r }); }),
        id: () => `id${++this.ids}`,
        // Calls are held as long as the simulation likes: none times out (timeouts: leasing.test.ts).
      }, { callTimeoutMs: Infinity });
      this.isos.push(iso);
    }
  }

  /** The ideal bucket's level now. */
  idealLevel(): number {
    const l = this.tenant.tier;
    return Math.min(l.burst, this.ideal.tokens + ((this.now - this.ideal.at) * l.rate_per_minute) / 60_000);
  }

  /** Running plus waiting requests of isolate `i`. */
  load(i: number): number { return this.isos[i]!.running.length + this.isos[i]!.waiting.size; }

  /** A request arrives at isolate `i`. */
  arrive(i: number, cost: number): void {
    const iso = this.isos[i]!;
    const req: Req = { iso: i, cost, maxRunning: iso.running.length, minIdeal: this.idealLevel() };
    iso.waiting.add(req);
    this.observe();
    iso.limiter.admit(this.tenant, cost).then((r) => {
      iso.waiting.delete(req);
      req.result = r;
      if (r.ok) {
        const level = this.idealLevel();
        this.ideal = { tokens: level - cost, at: this.now };
        this.admittedUnits += cost;
        iso.running.push(req);
      }
      this.observe();
      this.onResult(req);
    }, () => { iso.waiting.delete(req); this.observe(); });
  }

  /** Hook: called with every answered request. */
  onResult: (req: Req) => void = () => {};

  /** A running request of isolate `i` finishes. */
  finish(i: number): void {
    const iso = this.isos[i]!;
    if (iso.running.length === 0) return;
    const [req] = iso.running.splice(Math.floor(this.random() * iso.running.length), 1);
    this.observe();
    // Bytes from a counter, not the PRNG (the interleavings stay those of the seed): known before
    // the release (a Content-Length), or after it (a streamed response counted to its end).
    const n = ++this.finished;
    const bytes = { request: (n * 37) % 1_000, response: (n * 101) % 5_000 };
    this.bytesMetered.request += bytes.request;
    this.bytesMetered.response += bytes.response;
    const meter = () => { const p = iso.limiter.meter(this.tenant, bytes); if (p) this.background.push(p); };
    if (n % 3 !== 0) meter();
    this.background.push(iso.limiter.release(this.tenant, req!.result!.leaseId!));
    if (n % 3 === 0) meter();
  }

  /** Body bytes the object has counted, over all months. */
  bytesCounted(): { request: number; response: number } {
    const us = Object.values(this.state.usage);
    return { request: us.reduce((a, u) => a + (u.reqBytes ?? 0), 0), response: us.reduce((a, u) => a + (u.resBytes ?? 0), 0) };
  }

  /** Delivers pending call `k` to the object; `mode` loses the answer, or the call itself. */
  deliver(k: number, mode: 'ok' | 'answer-lost' | 'call-lost' = 'ok'): void {
    const [c] = this.calls.splice(k, 1);
    if (!c) return;
    if (mode === 'call-lost') { c.reject(new Error('object unreachable')); return; }
    this.isos[c.iso]!.peak = c.peakSinceSend;
    let answer: LeaseGrant | undefined;
    if (c.lease) {
      answer = lease(this.state, c.lease, this.now);
      if (!answer.ok && answer.reason === 'CONCURRENCY_LIMIT') {
        const othersPeak = this.isos.reduce((n, iso, j) => n + (j === c.iso ? 0 : iso.peak), 0);
        this.objectRefusals.push({ iso: c.iso, inflight: c.lease.inflight, othersPeak });
      }
    } else sync(this.state, c.sync!, this.now);
    if (mode === 'answer-lost') c.reject(new Error('answer lost'));
    else c.resolve(answer);
  }

  /** Moves the clock and fires the timers that came due. */
  advance(ms: number): void {
    this.now += ms;
    const due = this.timers.filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((t) => t.at > this.now);
    for (const t of due) t.fire();
    this.observe();
  }

  get timersPending(): number { return this.timers.length; }

  /** Lets every promise chain settle. */
  async settle(): Promise<void> { for (let i = 0; i < 200; i++) await null; }

  /** Tracks, after every change, the maxima the properties are stated against. */
  private observe(): void {
    const level = this.idealLevel();
    for (const [i, iso] of this.isos.entries()) {
      const load = this.load(i);
      iso.peak = Math.max(iso.peak, load);
      for (const r of iso.waiting) { r.maxRunning = Math.max(r.maxRunning, iso.running.length); r.minIdeal = Math.min(r.minIdeal, level); }
    }
    for (const c of this.calls) c.peakSinceSend = Math.max(c.peakSinceSend, this.load(c.iso));
  }

  private source(i: number): LeaseSource {
    const pend = (c: Omit<Call, 'resolve' | 'reject' | 'peakSinceSend'>) => new Promise<LeaseGrant | undefined>((resolve, reject) => {
      this.calls.push({ ...c, peakSinceSend: this.load(i), resolve, reject });
    });
    return {
      lease: (_t, req) => pend({ iso: i, lease: req }) as Promise<LeaseGrant>,
      sync: async (_t, report) => { await pend({ iso: i, sync: report }); },
    };
  }
}

/** A tenant record with the given limits (only the tier matters to the limiter). */
export function simTenant(tier: { rate: number; burst: number; concurrency: number; monthly?: number; hardCap?: boolean }): Tenant {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    tier: { rate_per_minute: tier.rate, burst: tier.burst, concurrency: tier.concurrency, monthly_requests: tier.monthly ?? 1e12, hard_cap: tier.hardCap ?? false },
  } as unknown as Tenant;
}
