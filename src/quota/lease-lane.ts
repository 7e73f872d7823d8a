/**
 * The isolate's side of one tenant's leasing, pure: the current grant, the requests running, and
 * what the next call to the object must carry (leasing-limiter.ts does the calls).
 *
 * Running requests are counted per tenant, not per grant: every admitted request is released
 * exactly once, whatever grant admitted it, so the count cannot leak.
 */
import type { AdmitResult, HolderReport, LeaseGrant, Returned } from './guard-types.js';
import { newCounter, pendingReport, unacked, type ByteCounter } from './byte-meter.js';

export interface LocalGrant {
  id: string;
  tokens: number;
  allowance: number;
  /** (When the call was sent) + TTL: never later than the object's own end of the grant. */
  expiresAt: number;
  loose: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
}

/** The result of a refused call, shared with the requests that waited for it. */
export interface Refused { result: AdmitResult; cost: number; sentAt: number; until: number; releasesAtSend: number }

export interface Lane {
  holderId: string;
  grant: LocalGrant | null;
  inflight: number;
  /** Releases so far (a refusal for concurrency is shared only if none happened since its call was sent). */
  releases: number;
  /** The object's count of our running requests may be out of date. */
  dirty: boolean;
  returns: Returned[];
  abandoned: string[];
  /** A refusal for rate or monthly quota, repeated locally until it could have changed. */
  blocked: Refused | null;
  /** The call in progress (one at a time per tenant). */
  call: Call | null;
  settle: Promise<void> | null;
  syncing: Promise<void> | null;
  /** When `syncing` began (one older than its bound is taken for dead). */
  syncingSince: number;
  retry: Promise<void> | null;
  /** When `retry` is due to run. */
  retryDue: number;
  /** Failed background reports in a row (reset by a delivered one). */
  retries?: number;
  /** Body bytes of this lane's requests (bandwidth), carried by its calls until acknowledged. */
  bytes: ByteCounter;
  /** A report of bytes counted after the last release, sent if no other call carries them first. */
  flush: Promise<void> | null;
}

/** A call to the object in progress: what it carries, so that it can be given up on and requeued. */
export interface Call {
  /** Resolves, with its refusal if any, when the call ends or is given up on. */
  busy: Promise<Refused | null>;
  done: (r: Refused | null) => void;
  report: Pick<HolderReport, 'returned' | 'abandoned' | 'meter'>;
  /** The grant a lease call asks for (reported abandoned if its answer is lost). */
  grantId: string | null;
  sentAt: number;
}

export const LOCAL_LEASE = 'local';

/** A new lane for holder `holderId`. */
export const newLane = (holderId: string): Lane => ({
  holderId, grant: null, inflight: 0, releases: 0, dirty: false, returns: [], abandoned: [], blocked: null, call: null, settle: null, syncing: null, syncingSince: 0, retry: null, retryDue: 0,
  bytes: newCounter(), flush: null,
});

/** Whether the current grant admits `cost` more units now without asking the object. */
export function canSpend(l: Lane, cost: number, now: number): boolean {
  const g = l.grant;
  return g !== null && now < g.expiresAt && g.tokens >= cost && l.inflight < g.allowance;
}

/** Admits one request from the current grant (canSpend must hold). */
export function spend(l: Lane, cost: number): AdmitResult {
  const g = l.grant!;
  g.tokens -= cost;
  l.inflight++;
  return { ok: true, limit: g.limit, remaining: g.remaining + g.tokens, resetMs: g.resetMs, leaseId: LOCAL_LEASE };
}

/** Whether the object should hear from us now (a valid loose grant covers releases until it expires). */
export function needsSync(l: Lane, now: number): boolean {
  const g = l.grant;
  if (g && g.loose && now < g.expiresAt) return false;
  return l.dirty || l.returns.length > 0 || l.abandoned.length > 0 || g !== null || unacked(l.bytes);
}

/**
 * What the next call carries; hands back the current grant (its unused tokens) when it is being
 * replaced, has expired, or is exact (spent by the request it admitted).
 */
export function takeReport(l: Lane, now: number, replacing: boolean): Pick<HolderReport, 'inflight' | 'returned' | 'abandoned' | 'meter'> {
  const g = l.grant;
  if (g && (replacing || !g.loose || now >= g.expiresAt)) {
    l.returns.push({ grantId: g.id, tokens: g.tokens });
    l.grant = null;
  }
  const returned = l.returns.splice(0);
  const abandoned = l.abandoned.splice(0);
  l.dirty = false;
  // Bytes are not taken: they stay counted until a call carrying them is answered (ack).
  const meter = pendingReport(l.bytes);
  return { inflight: l.inflight, ...(returned.length ? { returned } : {}), ...(abandoned.length ? { abandoned } : {}), ...(meter ? { meter } : {}) };
}

/** Puts back what a failed call carried, so that the next call carries it again. */
export function requeue(l: Lane, r: Pick<HolderReport, 'returned' | 'abandoned'>): void {
  l.returns.push(...(r.returned ?? []));
  l.abandoned.push(...(r.abandoned ?? []));
  l.dirty = true;
}

/** Starts a call carrying `report` (and asking for `grantId`, for a lease). */
export function beginCall(l: Lane, report: Pick<HolderReport, 'returned' | 'abandoned' | 'meter'>, grantId: string | null, sentAt: number): Call {
  let done!: (r: Refused | null) => void;
  const busy = new Promise<Refused | null>((r) => { done = r; });
  l.call = { busy, done, report, grantId, sentAt };
  return l.call;
}

/** Ends `call` (answered, with its refusal if any); false when it had been given up on already. */
export function endCall(l: Lane, call: Call, refused: Refused | null): boolean {
  call.done(refused);
  if (l.call !== call) return false;
  l.call = null;
  return true;
}

/**
 * Gives up on `call` (failed, timed out, or its request was cancelled): what it carried goes with
 * the next call, and its grant, which the object may have made, is reported abandoned (refunded).
 * False when it had ended or been given up on already.
 */
export function abandonCall(l: Lane, call: Call): boolean {
  call.done(null);
  if (l.call !== call) return false;
  l.call = null;
  requeue(l, call.report);
  if (call.grantId) l.abandoned.push(call.grantId);
  return true;
}

/** Installs a granted lease, admitting the request that asked for it. */
export function install(l: Lane, g: LeaseGrant, cost: number, sentAt: number): AdmitResult {
  l.blocked = null;
  l.grant = { id: g.grantId, tokens: g.tokens, allowance: g.allowance, expiresAt: sentAt + g.ttlMs, loose: g.mode === 'loose', limit: g.limit, remaining: g.remaining, resetMs: g.resetMs };
  return spend(l, cost);
}

/** Whether the lane holds nothing worth keeping. */
export const isIdle = (l: Lane, now: number): boolean =>
  l.inflight === 0 && l.grant === null && !l.dirty && !unacked(l.bytes) && l.returns.length === 0 && l.abandoned.length === 0
  && l.call === null && l.settle === null && l.flush === null && l.syncing === null && l.retry === null && (l.blocked === null || l.blocked.until <= now);
