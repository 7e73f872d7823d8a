/**
 * TenantGuard: one Durable Object per tenant (`tenant:<id>`, in the `eu` jurisdiction for
 * EU-resident tenants) holding its token bucket, monthly counter and concurrency leases.
 * Every admission is written to the object's SQLite before the answer leaves (output gate), so
 * a restart loses nothing; the alarm flushes monthly totals to the control Postgres.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.js';
import { useLocalNeonEndpoint } from '../data/neon-config.js';
import { checkMonthly, monthOf, msToNextMonth } from './monthly.js';
import { fullBucket, refill, take, type BucketState } from './token-bucket.js';
import { writeUsage } from './usage-sink.js';

export interface GuardLimits { ratePerMinute: number; burst: number; monthlyRequests: number; hardCap: boolean; concurrency: number }
export interface AdmitRequest { tenantId: string; cost: number; limits: GuardLimits; leaseMs?: number }
export type Refusal = 'RATE_LIMITED' | 'QUOTA_EXCEEDED' | 'CONCURRENCY_LIMIT';
export interface AdmitResult {
  ok: boolean;
  reason?: Refusal;
  limit: number;
  remaining: number;
  resetMs: number;
  retryAfterMs?: number;
  leaseId?: string;
}

export interface LeaseRequest {
  tenantId: string;
  /** Tokens wanted; fewer may be granted near the limit. */
  want: number;
  /** The smallest useful grant (the cost of the request waiting for it). */
  cost: number;
  slots: number;
  ttlMs: number;
  limits: GuardLimits;
  /** The isolate's previous lease and its unused tokens, given back. */
  returned?: { leaseId: string; tokens: number; month: string };
}
export interface LeaseGrant extends AdmitResult { tokens: number; slots: number; leaseId: string; expiresAt: number; month: string }

const FLUSH_MS = 10_000;
const RETRY_MS = 5_000;
const DEFAULT_LEASE_MS = 30_000;

/** The rate/quota/concurrency state of one tenant. */
export class TenantGuard extends DurableObject<Env> {
  private bucket: BucketState | null = null;
  private tenantId: string | null = null;
  /** Concurrency leases: id → [expiry, slots]. A single request holds one slot, an isolate's batch lease several. */
  private readonly leases = new Map<string, [number, number]>();
  private readonly usage = new Map<string, number>();
  /** Calls served since this instance started (metrics; not durable). */
  private readonly calls = { admit: 0, lease: 0, release: 0 };
  /** When the next alarm fires (null: none), kept here so admissions need no storage read for it. */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.load();
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  private load(): void {
    const sql = this.ctx.storage.sql;
    sql.exec('CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    sql.exec('CREATE TABLE IF NOT EXISTS usage (month TEXT PRIMARY KEY, admitted INTEGER NOT NULL, flushed INTEGER NOT NULL DEFAULT 0)');
    sql.exec('CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, slots INTEGER NOT NULL DEFAULT 1)');
    for (const r of sql.exec<{ k: string; v: string }>('SELECT k, v FROM meta')) {
      if (r.k === 'tenant') this.tenantId = r.v;
      if (r.k === 'bucket') this.bucket = JSON.parse(r.v) as BucketState;
    }
    for (const r of sql.exec<{ month: string; admitted: number }>('SELECT month, admitted FROM usage')) this.usage.set(r.month, r.admitted);
    for (const r of sql.exec<{ id: string; expires_at: number; slots: number }>('SELECT id, expires_at, slots FROM leases')) this.leases.set(r.id, [r.expires_at, r.slots]);
  }

  /** Admits `cost` units now, or says which limit refused and for how long. */
  async admit(req: AdmitRequest): Promise<AdmitResult> {
    this.calls.admit++;
    const now = Date.now();
    const { limits, cost } = req;
    this.remember(req.tenantId);
    this.pruneLeases(now);
    const bucket = this.bucket ?? fullBucket(limits, now);
    const base = { limit: limits.burst };

    if (this.heldSlots() >= limits.concurrency) {
      const soonest = this.soonestExpiry();
      return { ...base, ok: false, reason: 'CONCURRENCY_LIMIT', remaining: Math.floor(bucket.tokens), resetMs: 0, retryAfterMs: Math.max(1000, soonest - now) };
    }
    const month = monthOf(now);
    const monthly = checkMonthly(this.usage.get(month) ?? 0, limits, cost, now);
    if (!monthly.ok) {
      return { ...base, ok: false, reason: 'QUOTA_EXCEEDED', remaining: 0, resetMs: msToNextMonth(now), retryAfterMs: monthly.retryAfterMs };
    }
    const r = take(bucket, limits, Math.min(cost, limits.burst), now);
    this.saveBucket(r.state);
    if (!r.ok) return { ...base, ok: false, reason: 'RATE_LIMITED', remaining: r.remaining, resetMs: r.resetMs, retryAfterMs: r.retryAfterMs };

    this.setUsage(month, monthly.used);
    const leaseId = this.addLease(now + (req.leaseMs ?? DEFAULT_LEASE_MS), 1);
    await this.ensureAlarm(now);
    return { ...base, ok: true, remaining: r.remaining, resetMs: r.resetMs, leaseId };
  }

  /**
   * Grants an isolate up to `want` tokens and `slots` concurrency slots for `ttlMs`, debited here
   * and now: leasing can strand tokens in an isolate but never admit more than the limits.
   * Unused tokens of the isolate's previous lease come back with the call and are refunded.
   */
  async lease(req: LeaseRequest): Promise<LeaseGrant> {
    this.calls.lease++;
    const now = Date.now();
    const { limits } = req;
    this.remember(req.tenantId);
    const month = monthOf(now);
    let bucket = refill(this.bucket ?? fullBucket(limits, now), limits, now);
    if (req.returned) {
      this.drop(req.returned.leaseId);
      const back = Math.max(0, Math.floor(req.returned.tokens));
      if (back > 0 && req.returned.month === month) {
        bucket = { ...bucket, tokens: Math.min(limits.burst, bucket.tokens + back) };
        this.setUsage(month, Math.max(0, (this.usage.get(month) ?? 0) - back));
      }
    }
    this.pruneLeases(now);
    const base = { limit: limits.burst, month };
    const freeSlots = limits.concurrency - this.heldSlots();
    if (freeSlots < 1) return this.refuse(base, bucket, 'CONCURRENCY_LIMIT', Math.max(1000, this.soonestExpiry() - now), 0);
    const used = this.usage.get(month) ?? 0;
    const monthLeft = limits.hardCap ? limits.monthlyRequests - used : Number.MAX_SAFE_INTEGER;
    if (monthLeft < req.cost) return this.refuse(base, bucket, 'QUOTA_EXCEEDED', msToNextMonth(now), msToNextMonth(now));
    const tokens = Math.min(req.want, Math.floor(bucket.tokens), monthLeft);
    if (tokens < req.cost) {
      const perMs = limits.ratePerMinute / 60_000;
      this.saveBucket(bucket);
      return this.refuse(base, bucket, 'RATE_LIMITED', Math.ceil((req.cost - bucket.tokens) / perMs), Math.ceil((limits.burst - bucket.tokens) / perMs));
    }
    bucket = { ...bucket, tokens: bucket.tokens - tokens };
    this.saveBucket(bucket);
    this.setUsage(month, used + tokens);
    const slots = Math.min(req.slots, freeSlots);
    const expiresAt = now + req.ttlMs;
    const leaseId = this.addLease(expiresAt, slots);
    await this.ensureAlarm(now);
    const perMs = limits.ratePerMinute / 60_000;
    return { ...base, ok: true, tokens, slots, leaseId, expiresAt, remaining: Math.floor(bucket.tokens), resetMs: Math.ceil((limits.burst - bucket.tokens) / perMs) };
  }

  /** Ends a concurrency lease (the response is done). Unknown or expired ids are ignored. */
  async release(leaseId: string): Promise<void> {
    this.calls.release++;
    this.drop(leaseId);
  }

  private drop(leaseId: string): void {
    if (this.leases.delete(leaseId)) this.ctx.storage.sql.exec('DELETE FROM leases WHERE id = ?', leaseId);
  }

  /** RPC calls this instance has served, by method. */
  async stats(): Promise<{ admit: number; lease: number; release: number }> {
    return { ...this.calls };
  }

  /** Units admitted so far, per month, as this object counts them (the source of truth for metering). */
  async admitted(): Promise<Record<string, number>> {
    return Object.fromEntries(this.usage);
  }

  /** Flushes unflushed monthly totals to Postgres; on failure, retries later. Nothing is lost either way. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.pruneLeases(now);
    const sql = this.ctx.storage.sql;
    const dirty = [...sql.exec<{ month: string; admitted: number }>('SELECT month, admitted FROM usage WHERE admitted <> flushed')]
      .map((r) => [r.month, r.admitted] as [string, number]);
    if (dirty.length > 0 && this.tenantId) {
      // The sequence is persisted before the write: a flush that dies half-way is superseded by the next.
      const seq = Number([...sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'seq'")][0]?.v ?? 0) + 1;
      sql.exec("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", String(seq));
      try {
        useLocalNeonEndpoint(this.env.NEON_LOCAL_ENDPOINT);
        await writeUsage(this.env.CONTROL_DATABASE_URL, this.tenantId, seq, dirty);
        for (const [month, n] of dirty) sql.exec('UPDATE usage SET flushed = ? WHERE month = ?', n, month);
      } catch (err) {
        console.warn(JSON.stringify({ level: 'warn', msg: 'usage flush failed', tenant: this.tenantId, error: String(err).slice(0, 200) }));
        await this.schedule(now + RETRY_MS);
        return;
      }
    }
    if (this.leases.size > 0) await this.schedule(this.soonestExpiry() + 1);
  }

  private refuse(base: { limit: number; month: string }, bucket: BucketState, reason: Refusal, retryAfterMs: number, resetMs: number): LeaseGrant {
    return { ...base, ok: false, reason, retryAfterMs, resetMs, tokens: 0, slots: 0, leaseId: '', expiresAt: 0, remaining: Math.floor(bucket.tokens) };
  }

  private setUsage(month: string, n: number): void {
    this.usage.set(month, n);
    this.ctx.storage.sql.exec('INSERT INTO usage (month, admitted) VALUES (?, ?) ON CONFLICT (month) DO UPDATE SET admitted = excluded.admitted', month, n);
  }

  private saveBucket(b: BucketState): void {
    this.bucket = b;
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta VALUES ('bucket', ?)", JSON.stringify(b));
  }

  private addLease(expiresAt: number, slots: number): string {
    const id = crypto.randomUUID();
    this.leases.set(id, [expiresAt, slots]);
    this.ctx.storage.sql.exec('INSERT INTO leases (id, expires_at, slots) VALUES (?, ?, ?)', id, expiresAt, slots);
    return id;
  }

  private heldSlots(): number {
    let n = 0;
    for (const [, slots] of this.leases.values()) n += slots;
    return n;
  }

  private soonestExpiry(): number {
    let t = Infinity;
    for (const [exp] of this.leases.values()) t = Math.min(t, exp);
    return t;
  }

  private async ensureAlarm(now: number): Promise<void> {
    if (this.alarmAt === null) await this.schedule(now + FLUSH_MS);
  }

  private async schedule(at: number): Promise<void> {
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** Records which tenant this object belongs to, once (the flush needs it). */
  private remember(tenantId: string): void {
    if (this.tenantId !== null) return;
    this.tenantId = tenantId;
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta VALUES ('tenant', ?)", tenantId);
  }

  private pruneLeases(now: number): void {
    for (const [id, [exp]] of this.leases) {
      if (exp <= now) {
        this.leases.delete(id);
        this.ctx.storage.sql.exec('DELETE FROM leases WHERE id = ?', id);
      }
    }
  }
}
