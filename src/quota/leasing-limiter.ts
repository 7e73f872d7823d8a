/**
 * A RateLimiter that leases tokens and concurrency allowance from the tenant's TenantGuard, so
 * that most requests of a busy tenant need no Durable Object call (lease sizes: lease-size.ts).
 *
 * One call per tenant is in flight at a time from an isolate (others wait for it), so every call
 * reports this isolate's running requests exactly and the object can replace its count. The call
 * that refills admits its own request. A "loose" grant is spent locally until it expires; a
 * settle then gives its unused tokens back and reports the running requests. Under an "exact"
 * grant (a tenant below 20 requests/s, or near its concurrency) every request costs a lease call
 * and its release a report. A call that throws leaves its grant id to be reported as abandoned,
 * so the object refunds a grant whose answer was lost: metering stays exact.
 */
import type { Tenant } from '../tenancy/tenant.js';
import { LEASE_TTL_MS, leaseSize } from './lease-size.js';
import { guardLimits, type RateLimiter } from './rate-limiter.js';
import type { AdmitResult, GuardLimits, HolderReport, LeaseGrant, LeaseRequest } from './guard-types.js';
import { within } from '../flight/within.js';
import { ack, addBytes, type Bytes } from './byte-meter.js';
import { abandonCall, beginCall, canSpend, endCall, install, isIdle, LOCAL_LEASE, needsSync, newLane, spend, takeReport, type Call, type Lane, type Refused } from './lease-lane.js';

/** What the leasing limiter needs of the object (the TenantGuard stub, or a test's stand-in). */
export interface LeaseSource {
  lease(tenant: Tenant, req: LeaseRequest): Promise<LeaseGrant>;
  sync(tenant: Tenant, report: HolderReport): Promise<void>;
}

/** Time and ids, injectable so that a simulation can drive the limiter. */
export interface LeaseTiming { now(): number; sleep(ms: number): Promise<void>; id(): string }

/** The longest a call to the object may take before it counts as failed (the guard's fail mode decides). */
export const DEFAULT_CALL_TIMEOUT_MS = 5_000;
/** A request waiting on another request's call gives up on it this long after the call's own bound. */
const JOIN_MARGIN_MS = 500;
const RETRY_MS = 1_000;
const RETRY_LIMIT = 6;
const SWEEP_EVERY = 1_000;

export class LeasingRateLimiter implements RateLimiter {
  private readonly lanes = new Map<string, Lane>();
  private readonly t: LeaseTiming;
  private admits = 0;

  private readonly callTimeoutMs: number;
  /** The timer `within` runs on: the injected clock's, in a simulation. */
  private readonly wait: ((ms: number) => Promise<void>) | undefined;

  constructor(private readonly source: LeaseSource, timing: Partial<LeaseTiming> = {}, opts: { callTimeoutMs?: number } = {}) {
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.wait = timing.sleep;
    this.t = {
      now: timing.now ?? Date.now,
      sleep: timing.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      id: timing.id ?? (() => crypto.randomUUID()),
    };
  }

  async admit(tenant: Tenant, cost: number): Promise<AdmitResult> {
    if (++this.admits % SWEEP_EVERY === 0) this.sweep();
    const limits = guardLimits(tenant.tier);
    const c = Math.min(cost, limits.burst);
    for (;;) {
      // Looked up again after every wait: an idle lane may have been dropped meanwhile.
      const lane = this.lane(tenant.id);
      const now = this.t.now();
      const b = lane.blocked;
      if (b && now < b.until && c >= b.cost) return { ...b.result, retryAfterMs: Math.max(1, (b.result.retryAfterMs ?? 1) - (now - b.sentAt)) };
      if (canSpend(lane, c, now)) return spend(lane, c);
      if (lane.call) {
        const joined = await this.join(lane, lane.call);
        const refused = joined.settled ? joined.value : null;
        // Refused for concurrency, and nothing released since: our situation is the same.
        if (refused && refused.result.reason === 'CONCURRENCY_LIMIT' && refused.releasesAtSend === lane.releases) return refused.result;
        continue;
      }
      return this.refill(tenant, lane, limits, c);
    }
  }

  releaseQuietly(tenant: Tenant, leaseId: string): void {
    const lane = this.lanes.get(tenant.id);
    if (leaseId !== LOCAL_LEASE || !lane) return;
    lane.inflight = Math.max(0, lane.inflight - 1);
    lane.releases++;
    lane.dirty = true;
  }

  async release(tenant: Tenant, leaseId: string): Promise<void> {
    const lane = this.lanes.get(tenant.id);
    if (leaseId !== LOCAL_LEASE || !lane) return;
    this.releaseQuietly(tenant, leaseId);
    // A valid loose grant covers the release (its allowance is reserved); its settle reports.
    if (!needsSync(lane, this.t.now())) return lane.settle ?? undefined;
    return this.sync(tenant, lane);
  }

  /**
   * Counts body bytes of an admitted request (bandwidth). They go with the lane's next call: the
   * release of a running request, the loose grant's settle, or the next request's lease; with
   * none of these within a lease TTL, a report of their own (the promise, for waitUntil). Most
   * responses are counted as they stream out, after their request's release: without the wait,
   * every request of an exact-mode tenant would cost a third object call.
   */
  meter(tenant: Tenant, bytes: Partial<Bytes>): Promise<void> | null {
    const lane = this.lane(tenant.id);
    addBytes(lane.bytes, bytes);
    if (lane.inflight > 0 || !needsSync(lane, this.t.now())) return lane.settle;
    if (lane.flush) return lane.flush;
    const p: Promise<void> = this.t.sleep(LEASE_TTL_MS)
      .then(() => { if (lane.flush === p) lane.flush = null; return needsSync(lane, this.t.now()) && lane.inflight === 0 ? this.sync(tenant, lane) : undefined; })
      .finally(() => { if (lane.flush === p) lane.flush = null; this.dropIfIdle(tenant.id, lane); });
    lane.flush = p;
    return p;
  }

  /** This isolate's background work for `tenant` (settle, report retries), for waitUntil. */
  background(tenant: Tenant): Promise<void> | null {
    const lane = this.lanes.get(tenant.id);
    const work = lane ? [lane.settle, lane.flush, lane.syncing, lane.retry].filter((p) => p !== null) : [];
    return work.length ? Promise.all(work).then(() => {}) : null;
  }

  /** Asks the object for a grant that admits this request (and, loose, more). Throws if unreachable. */
  private async refill(tenant: Tenant, lane: Lane, limits: GuardLimits, cost: number): Promise<AdmitResult> {
    const sentAt = this.t.now();
    const grantId = this.t.id();
    const releasesAtSend = lane.releases;
    const report = takeReport(lane, sentAt, true);
    const req: LeaseRequest = { tenantId: tenant.id, holderId: lane.holderId, grantId, want: Math.max(leaseSize(limits), cost), cost, ttlMs: LEASE_TTL_MS, limits, ...report };
    const call = beginCall(lane, report, grantId, sentAt);
    let refused: Refused | null = null;
    try {
      const answer = await within(this.source.lease(tenant, req), this.callTimeoutMs, this.wait);
      if (!answer.settled) throw new Error(`TenantGuard did not answer within ${this.callTimeoutMs} ms`);
      // Given up on by a request that waited for it: its grant is being reported abandoned.
      if (lane.call !== call) throw new Error('TenantGuard answered after the call was given up on');
      // Answered, granted or not: the object applied the bytes it carried.
      ack(lane.bytes, report.meter);
      const g = answer.value;
      if (!g.ok) {
        refused = { result: g, cost, sentAt, until: sentAt + Math.min(g.retryAfterMs ?? 1, LEASE_TTL_MS) - 1, releasesAtSend };
        // The object refused with this isolate's tokens all given back: until the bucket (or
        // month) could have changed, the same request would be refused again.
        if (g.reason !== 'CONCURRENCY_LIMIT') lane.blocked = refused;
        return g;
      }
      const admitted = install(lane, g, cost, sentAt);
      if (g.mode === 'loose') this.scheduleSettle(tenant, lane);
      return admitted;
    } catch (err) {
      if (abandonCall(lane, call)) void this.retryLater(tenant, lane);
      throw err;
    } finally {
      endCall(lane, call, refused);
    }
  }

  /**
   * Waits for another request's call, no longer than it may take: past that, the request that
   * made it was cancelled mid-call (its I/O with it), so the call is given up on here.
   */
  private async join(lane: Lane, call: Call) {
    const joined = await within(call.busy, call.sentAt + this.callTimeoutMs + JOIN_MARGIN_MS - this.t.now(), this.wait);
    if (!joined.settled) abandonCall(lane, call);
    return joined;
  }

  /**
   * Tells the object our running requests and gives back tokens; one at a time, coalesced. A
   * failure chains a retry into the returned promise, so the waitUntil that holds it holds the
   * retry too.
   */
  private sync(tenant: Tenant, lane: Lane): Promise<void> {
    // Joined only while it can still be alive: one that ran past its calls' bounds belonged to a
    // request that was cut off (its timers and calls with it), and would never settle.
    if (lane.syncing && this.t.now() - lane.syncingSince <= this.backgroundBoundMs()) return lane.syncing;
    const run = async (): Promise<boolean> => {
      for (;;) {
        if (lane.call) { await this.join(lane, lane.call); continue; }
        const now = this.t.now();
        if (!needsSync(lane, now)) return true;
        const report = takeReport(lane, now, false);
        const call = beginCall(lane, report, null, now);
        try {
          const answer = await within(this.source.sync(tenant, { tenantId: tenant.id, holderId: lane.holderId, limits: guardLimits(tenant.tier), ...report }), this.callTimeoutMs, this.wait);
          if (!answer.settled) { abandonCall(lane, call); return false; }
          ack(lane.bytes, report.meter);
        } catch {
          abandonCall(lane, call);
          return false;
        } finally {
          endCall(lane, call, null);
        }
      }
    };
    const p: Promise<void> = run().finally(() => { if (lane.syncing === p) lane.syncing = null; })
      .then((ok) => { if (ok) { lane.retries = 0; return undefined; } return this.retryLater(tenant, lane); })
      .finally(() => this.dropIfIdle(tenant.id, lane));
    lane.syncing = p;
    lane.syncingSince = this.t.now();
    return p;
  }

  /** When the loose grant expires (unless a newer one came), give back its tokens and report. */
  private scheduleSettle(tenant: Tenant, lane: Lane): void {
    const g = lane.grant!;
    const p: Promise<void> = this.t.sleep(Math.max(0, g.expiresAt - this.t.now()))
      .then(() => (lane.grant === g ? this.sync(tenant, lane) : undefined))
      .finally(() => { if (lane.settle === p) lane.settle = null; this.dropIfIdle(tenant.id, lane); });
    lane.settle = p;
  }

  /**
   * A background report after a failed call, carrying what it could not deliver; again after
   * each failure, backing off (1, 2, 4, 8, 8… s) for at most RETRY_LIMIT attempts, about as long
   * as a waitUntil may run. What is still undelivered then goes with the next call.
   */
  private retryLater(tenant: Tenant, lane: Lane): Promise<void> {
    if (lane.retry && this.t.now() <= lane.retryDue + this.backgroundBoundMs()) return lane.retry;
    const attempt = (lane.retries = (lane.retries ?? 0) + 1);
    if (attempt > RETRY_LIMIT) return Promise.resolve();
    const delay = Math.min(RETRY_MS * 2 ** (attempt - 1), 8 * RETRY_MS);
    lane.retryDue = this.t.now() + delay;
    const p: Promise<void> = this.t.sleep(delay)
      .then(() => { if (lane.retry === p) lane.retry = null; return this.sync(tenant, lane); })
      .finally(() => { if (lane.retry === p) lane.retry = null; this.dropIfIdle(tenant.id, lane); });
    lane.retry = p;
    return p;
  }

  /** How long background work (a report, with a wait for the call before it) can take while alive. */
  private backgroundBoundMs(): number {
    return 2 * (this.callTimeoutMs + JOIN_MARGIN_MS);
  }

  private lane(tenantId: string): Lane {
    let l = this.lanes.get(tenantId);
    if (!l) { l = newLane(this.t.id()); this.lanes.set(tenantId, l); }
    return l;
  }

  private dropIfIdle(tenantId: string, lane: Lane): void {
    if (this.lanes.get(tenantId) === lane && isIdle(lane, this.t.now())) this.lanes.delete(tenantId);
  }

  private sweep(): void {
    for (const [id, l] of this.lanes) this.dropIfIdle(id, l);
  }
}
