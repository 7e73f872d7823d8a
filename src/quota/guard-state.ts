/**
 * The state of one tenant's TenantGuard, pure: token bucket, monthly usage, who holds
 * concurrency, and the grants still outstanding. Functions take `now` and mutate the state they
 * are given; the Durable Object persists it after every call (guard-ops.ts has the calls).
 *
 * Concurrency is counted per holder: an isolate (one random id per isolate and tenant) reports
 * how many of its requests are running on every call, and a grant may add headroom (requests it
 * can start without asking) until the grant expires. A request admitted on its own (no leasing)
 * is a holder of its own (`lease:<id>`) with one request, released by id or after `leaseMs`.
 */
import { refill, fullBucket, type BucketState } from './token-bucket.js';
import { applyReport as applyMeter, type MeterMark, type MeterReport } from './byte-meter.js';
import { monthOf } from './monthly.js';
import type { GuardLimits, HolderReport } from './guard-types.js';

/** A holder that has not called for this long is gone (its isolate died): its slots are free. */
export const HOLDER_TTL_MS = 30_000;
/** Grants are remembered this long, so that returns and abandoned grants are refunded exactly. */
export const GRANT_MEMORY_MS = 10 * 60_000;
/**
 * How long a byte meter's mark is kept after its last report: far past the longest a report can
 * be resent (a lane retries for seconds, and lives while it has undelivered bytes), so a late
 * replay finds its mark and adds nothing. One small entry per isolate lane and tenant.
 */
export const METER_MEMORY_MS = 24 * 3600_000;
/**
 * Headroom is counted a little past the grant's TTL: the isolate's window ends at (time it sent
 * the call + TTL), and the settle it sends then must arrive before the object stops counting.
 */
export const HEADROOM_GRACE_MS = 250;

export interface Holder {
  inflight: number;
  headroom: number;
  /** Headroom counts until then. */
  until: number;
  /** The grant that gave the headroom (a return of it ends the headroom). */
  grantId: string | null;
  expiresAt: number;
}
export interface Grant { tokens: number; month: string; at: number }
/**
 * A month's metering: admitted units, and body bytes of requests (`reqBytes`) and responses
 * (`resBytes`), each with what was last flushed. The byte fields are absent in states stored
 * before bandwidth was metered (read as 0).
 */
export interface MonthUsage {
  admitted: number; flushed: number;
  reqBytes?: number; resBytes?: number; flushedReqBytes?: number; flushedResBytes?: number;
}

export interface GuardState {
  v: 2;
  /** Random per state: the metering source this state flushes as (see migration 0004). */
  source: string;
  tenantId: string | null;
  bucket: BucketState | null;
  usage: Record<string, MonthUsage>;
  holders: Record<string, Holder>;
  grants: Record<string, Grant>;
  /** Grant ids their isolates gave up on: a late call naming one is not granted. */
  dropped: Record<string, number>;
  /** Per byte meter (an isolate lane), the highest totals applied (byte-meter.ts); absent in older states. */
  meters?: Record<string, MeterMark>;
  /** Flush sequence of this source; persisted before each write. */
  seq: number;
  /** Consecutive failed flushes (retry back-off). */
  failures: number;
}

/** A new state that meters as `source`. */
export const freshState = (source: string): GuardState => ({
  v: 2, source, tenantId: null, bucket: null, usage: {}, holders: {}, grants: {}, dropped: {}, meters: {}, seq: 0, failures: 0,
});

/** Running requests a holder may have now: reported ones plus headroom while it lasts. */
export const contribution = (h: Holder, now: number): number => h.inflight + (h.until > now ? h.headroom : 0);

/** Slots held by every holder but `holderId`. */
export function heldByOthers(s: GuardState, holderId: string, now: number): number {
  let n = 0;
  for (const [id, h] of Object.entries(s.holders)) if (id !== holderId) n += contribution(h, now);
  return n;
}

/** Drops holders that stopped calling, expired headroom, and grants and tombstones past memory. */
export function prune(s: GuardState, now: number): void {
  for (const [id, h] of Object.entries(s.holders)) {
    if (h.expiresAt <= now) delete s.holders[id];
    else if (h.until <= now && h.headroom > 0) { h.headroom = 0; h.grantId = null; }
  }
  for (const [id, g] of Object.entries(s.grants)) if (g.at + GRANT_MEMORY_MS <= now) delete s.grants[id];
  for (const [id, at] of Object.entries(s.dropped)) if (at + GRANT_MEMORY_MS <= now) delete s.dropped[id];
  for (const [id, m] of Object.entries(s.meters ?? {})) if (m.at + METER_MEMORY_MS <= now) delete s.meters![id];
}

/** The bucket refilled to `now` (full for a new state). */
export function bucketAt(s: GuardState, limits: GuardLimits, now: number): BucketState {
  s.bucket = refill(s.bucket ?? fullBucket(limits, now), limits, now);
  return s.bucket;
}

/** Adds `n` (negative: refunds) to the usage of `month`. */
export function addUsage(s: GuardState, month: string, n: number): void {
  const u = s.usage[month] ?? (s.usage[month] = { admitted: 0, flushed: 0 });
  u.admitted = Math.max(0, u.admitted + n);
}

/**
 * Applies a byte meter's report (bandwidth, byte-meter.ts) to the month of `now`: only what lies
 * beyond what this meter already delivered, so retries and replays add nothing.
 */
export function meterBytes(s: GuardState, meterId: string, r: MeterReport, now: number): void {
  const meters = (s.meters ??= {});
  const { delta, mark } = applyMeter(meters[meterId], r);
  meters[meterId] = { ...mark, at: now };
  if (delta.request === 0 && delta.response === 0) return;
  const month = monthOf(now);
  const u = s.usage[month] ?? (s.usage[month] = { admitted: 0, flushed: 0 });
  u.reqBytes = (u.reqBytes ?? 0) + delta.request;
  u.resBytes = (u.resBytes ?? 0) + delta.response;
}

/** Gives back up to `tokens` of grant `grantId` (all of it when null): bucket and usage. Unknown ids change nothing. */
export function refund(s: GuardState, grantId: string, tokens: number | null, limits: GuardLimits, now: number): void {
  const g = s.grants[grantId];
  if (!g) return;
  delete s.grants[grantId];
  const back = tokens === null ? g.tokens : Math.min(g.tokens, Math.max(0, Math.floor(tokens)));
  if (back === 0) return;
  const b = bucketAt(s, limits, now);
  s.bucket = { ...b, tokens: Math.min(limits.burst, b.tokens + back) };
  addUsage(s, g.month, -back);
}

/**
 * Applies what a holder reports: refunds, abandoned grants, and its running requests. A return
 * of the grant that gave the holder headroom ends that headroom.
 */
export function applyReport(s: GuardState, r: HolderReport, now: number, late = false): Holder {
  prune(s, now);
  if (s.tenantId === null) s.tenantId = r.tenantId;
  const h = s.holders[r.holderId] ?? { inflight: 0, headroom: 0, until: 0, grantId: null, expiresAt: 0 };
  // Idempotent by itself: applied even from a call its isolate gave up on.
  if (r.meter) meterBytes(s, r.holderId, r.meter, now);
  for (const id of r.abandoned ?? []) {
    refund(s, id, null, r.limits, now);
    s.dropped[id] = now;
    // The grant that gave the holder headroom is gone: so is the headroom.
    if (id === h.grantId) { h.headroom = 0; h.grantId = null; }
  }
  for (const ret of r.returned ?? []) {
    refund(s, ret.grantId, ret.tokens, r.limits, now);
    if (ret.grantId === h.grantId) { h.headroom = 0; h.grantId = null; }
  }
  // A call its isolate already gave up on carries an old count: newer reports know better, and a
  // holder forgotten meanwhile (its count went to 0) must not come back with the old one.
  if (late) return h;
  h.inflight = Math.max(0, Math.floor(r.inflight));
  h.expiresAt = now + HOLDER_TTL_MS;
  s.holders[r.holderId] = h;
  return h;
}

/** Forgets a holder with nothing running and no headroom (keeps the persisted state small). */
export function forgetIfIdle(s: GuardState, holderId: string, now: number): void {
  const h = s.holders[holderId];
  if (h && contribution(h, now) === 0) delete s.holders[holderId];
}
