/**
 * TenantGuard: one Durable Object per tenant (`tenant:<id>`, in the jurisdiction fixed when the
 * tenant was created) wrapping the pure state of guard-state.ts / guard-ops.ts. Every call
 * writes the state before its answer leaves (the output gate makes it durable), so a restart
 * loses nothing; the alarm flushes monthly totals to the control Postgres as this state's source.
 *
 * Once a flush has succeeded and the tenant no longer exists, the object deletes its storage and
 * alarm and stops. A later call (a router with a stale cache) starts a fresh state, which meters
 * as a new source: usage is kept per tenant, never cascaded away.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.js';
import { useLocalNeonEndpoint } from '../data/neon-config.js';
import { monthOf } from './monthly.js';
import { freshState, meterBytes, prune, type GuardState } from './guard-state.js';
import { admitOne, lease, releaseOne, sync } from './guard-ops.js';
import { backoffMs, dirtyMonths, FLUSH_MS, IDLE_CHECK_MS, markFlushed } from './guard-flush.js';
import { loadState, saveState } from './guard-storage.js';
import { writeUsage } from './usage-sink.js';
import type { AdmitRequest, AdmitResult, HolderReport, LeaseGrant, LeaseRequest, MeterCall } from './guard-types.js';

export type * from './guard-types.js';

const FLUSH_TIMEOUT_MS = 5_000;

/** The rate/quota/concurrency state of one tenant. */
export class TenantGuard extends DurableObject<Env> {
  /** Named apart from CircuitBreaker's members: test hosts type a stub as both classes at once. */
  private guard: GuardState | null = null;
  /** Calls served since this instance started (metrics; not durable). */
  private readonly calls = { admit: 0, lease: 0, release: 0, sync: 0, meter: 0 };
  /** When the next alarm fires (null: none), kept here so calls need no storage read for it. */
  private alarmAt: number | null = null;
  private flushing: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.guard = loadState(ctx.storage.sql);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Admits `cost` units for one request (no leasing), or says which limit refused and for how long. */
  async admit(req: AdmitRequest): Promise<AdmitResult> {
    this.calls.admit++;
    const s = this.working();
    const r = admitOne(s, req, crypto.randomUUID(), Date.now());
    await this.persist(s);
    return r;
  }

  /** Ends a per-request lease (the response is done), with the isolate's bytes so far. Unknown or expired ids are ignored. */
  async release(leaseId: string, meter?: MeterCall): Promise<void> {
    this.calls.release++;
    if (meter) {
      const s = this.working();
      if (s.tenantId === null) s.tenantId = meter.tenantId;
      meterBytes(s, meter.meterId, meter.meter, Date.now());
      releaseOne(s, leaseId);
      await this.persist(s);
      return;
    }
    if (this.guard && releaseOne(this.guard, leaseId)) await this.persist(this.guard);
  }

  /** An isolate's grant: tokens and concurrency allowance, admitting the request that asked. */
  async lease(req: LeaseRequest): Promise<LeaseGrant> {
    this.calls.lease++;
    const s = this.working();
    const g = lease(s, req, Date.now());
    await this.persist(s);
    return g;
  }

  /** An isolate's report: its running requests, unused tokens given back, abandoned grants. */
  async sync(report: HolderReport): Promise<void> {
    this.calls.sync++;
    // Nothing to record for an object that stores nothing (a late settle after a deletion), unless
    // the report names grants: an abandoned id must be remembered, or its lease, arriving later,
    // would be granted and metered with nobody to refund it.
    if (!this.guard && report.inflight === 0 && !report.abandoned?.length && !report.returned?.length && !report.meter) return;
    const s = this.working();
    sync(s, report, Date.now());
    await this.persist(s);
  }

  /** Body bytes (bandwidth) from a byte meter of an isolate that does not lease (QUOTA_LEASING=false). */
  async meter(call: MeterCall): Promise<void> {
    this.calls.meter++;
    const s = this.working();
    prune(s, Date.now());
    if (s.tenantId === null) s.tenantId = call.tenantId;
    meterBytes(s, call.meterId, call.meter, Date.now());
    await this.persist(s);
  }

  /** RPC calls this instance has served, by method. */
  async stats(): Promise<{ admit: number; lease: number; release: number; sync: number; meter: number }> {
    return { ...this.calls };
  }

  /** Body bytes metered per month by this object's current state: [request bytes, response bytes]. */
  async bandwidth(): Promise<Record<string, [number, number]>> {
    return Object.fromEntries(Object.entries(this.guard?.usage ?? {}).map(([m, u]) => [m, [u.reqBytes ?? 0, u.resBytes ?? 0]]));
  }

  /** Units admitted per month by this object's current state (the source of truth for metering). */
  async admitted(): Promise<Record<string, number>> {
    return Object.fromEntries(Object.entries(this.guard?.usage ?? {}).map(([m, u]) => [m, u.admitted]));
  }

  /** The whole state (operators and tests), or null when the object stores nothing. */
  async inspect(): Promise<GuardState | null> {
    return this.guard && structuredClone(this.guard);
  }

  /**
   * Erasure (src/tenant-data/erase.ts): drops the whole state and its alarm now, flushed or not
   * (the tenant's usage rows are being erased too). Whether anything was stored.
   */
  async forgetTenant(): Promise<{ hadState: boolean }> {
    const hadState = this.guard !== null;
    await this.erase();
    return { hadState };
  }

  /** Flushes unflushed totals; clears the object once its tenant is gone; backs off on failure. */
  override async alarm(): Promise<void> {
    // One flush at a time: a second one would write back a state the first may have erased.
    this.flushing ??= this.flush().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  private async flush(): Promise<void> {
    this.alarmAt = null;
    const s = this.guard;
    if (!s) return;
    if (!s.tenantId) { await this.erase(); return; }
    const totals = dirtyMonths(s);
    if (totals.length > 0) {
      // Persisted before the write: a flush that dies half-way is superseded by the next one.
      s.seq++;
      saveState(this.ctx.storage.sql, s);
    }
    try {
      useLocalNeonEndpoint(this.env.NEON_LOCAL_ENDPOINT);
      const { tenantExists } = await writeUsage(this.env.CONTROL_DATABASE_URL, s.tenantId, s.source, s.seq, totals, FLUSH_TIMEOUT_MS);
      // The state was erased or replaced meanwhile: nothing of it may be written back.
      if (this.guard !== s) return;
      markFlushed(s, totals, monthOf(Date.now()));
      s.failures = 0;
      const dirty = dirtyMonths(s).length > 0;
      // Calls that arrived during the write are flushed first, and a grant still out (an isolate
      // may yet give back its unused tokens, or report it lost) is waited for (at most the grant
      // memory, 10 min): only then does the object stop for good.
      // Held slots do not matter once the tenant is gone; a grant's tokens do (they may come back).
      prune(s, Date.now());
      const outstanding = Object.keys(s.grants).length > 0;
      if (!tenantExists && !dirty && !outstanding) { await this.erase(); return; }
      saveState(this.ctx.storage.sql, s);
      await this.schedule(Date.now() + (dirty || !tenantExists ? FLUSH_MS : IDLE_CHECK_MS));
    } catch (err) {
      if (this.guard !== s) return;
      s.failures++;
      saveState(this.ctx.storage.sql, s);
      const delay = backoffMs(s.failures, Math.random());
      console.warn(JSON.stringify({ level: 'warn', msg: 'usage flush failed', tenant: s.tenantId, failures: s.failures, retryInMs: delay, error: String(err).slice(0, 200) }));
      await this.schedule(Date.now() + delay);
    }
  }

  /** The state to work on: the stored one, or a fresh one that meters as a new source. */
  private working(): GuardState {
    return (this.guard ??= freshState(crypto.randomUUID()));
  }

  /**
   * Persists `s` and keeps an alarm set whenever anything is stored: a flush soon when usage is
   * unflushed (without cutting a retry back-off short), else the idle check. So a stored state
   * always has an alarm that will, at the latest, find its tenant gone and clear it.
   */
  private async persist(s: GuardState): Promise<void> {
    saveState(this.ctx.storage.sql, s);
    const dirty = dirtyMonths(s).length > 0;
    const due = Date.now() + (dirty ? FLUSH_MS : IDLE_CHECK_MS);
    if (this.alarmAt === null || (dirty && s.failures === 0 && this.alarmAt > due)) await this.schedule(due);
  }

  private async schedule(at: number): Promise<void> {
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** Removes every trace of the object: storage and alarm. */
  private async erase(): Promise<void> {
    this.guard = null;
    this.alarmAt = null;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
}
