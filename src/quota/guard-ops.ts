/**
 * The TenantGuard's calls as pure transitions of GuardState (guard-state.ts).
 *
 * A lease is refused CONCURRENCY_LIMIT only if the asking holder's own running requests plus
 * the one asking do not fit beside what the other holders may hold: a holder's own stale count
 * can never lock it out, whatever the order of its admits, refills and releases. Headroom (slots
 * beyond the asking request) is granted only while every holding stays within half the
 * concurrency ("loose"); past that a grant covers exactly the asking request ("exact") and the
 * isolate reports each release, so no isolate is refused on a count that is out of date.
 * Tokens are debited when granted and counted as used; unused ones come back by grant id.
 */
import { checkMonthly, monthOf, msToNextMonth } from './monthly.js';
import { take, type BucketState } from './token-bucket.js';
import { addUsage, applyReport, bucketAt, forgetIfIdle, HEADROOM_GRACE_MS, heldByOthers, prune, type GuardState } from './guard-state.js';
import type { AdmitRequest, AdmitResult, GuardLimits, HolderReport, LeaseGrant, LeaseRequest, Refusal } from './guard-types.js';

const DEFAULT_LEASE_MS = 30_000;
const CONCURRENCY_RETRY_MS = 1000;
/** Per-request leases are holders with this prefix; isolates' holder ids never have it. */
export const REQUEST_LEASE = 'lease:';

const perMs = (l: GuardLimits) => l.ratePerMinute / 60_000;
const resetOf = (l: GuardLimits, b: BucketState) => Math.ceil((l.burst - b.tokens) / perMs(l));

/** Grants tokens and allowance to a holder, admitting the request that asked (or says why not). */
export function lease(s: GuardState, req: LeaseRequest, now: number): LeaseGrant {
  const { limits } = req;
  const cost = Math.min(req.cost, limits.burst);
  const late = s.dropped[req.grantId] !== undefined;
  const h = applyReport(s, req, now, late);
  if (!late) { h.headroom = 0; h.grantId = null; }
  const bucket = bucketAt(s, limits, now);
  const refuse = (reason: Refusal, retryAfterMs: number): LeaseGrant => {
    forgetIfIdle(s, req.holderId, now);
    return { ok: false, reason, retryAfterMs: Math.max(1, retryAfterMs), limit: limits.burst, remaining: Math.floor(bucket.tokens),
      resetMs: resetOf(limits, bucket), grantId: req.grantId, tokens: 0, allowance: 0, mode: 'exact', ttlMs: 0 };
  };
  // The isolate gave this call up for lost and reported it; a late arrival grants nothing.
  if (late) return refuse('RATE_LIMITED', 1);
  const others = heldByOthers(s, req.holderId, now);
  if (h.inflight + 1 > limits.concurrency - others) return refuse('CONCURRENCY_LIMIT', CONCURRENCY_RETRY_MS);
  const month = monthOf(now);
  const used = s.usage[month]?.admitted ?? 0;
  const monthLeft = limits.hardCap ? limits.monthlyRequests - used : Number.MAX_SAFE_INTEGER;
  if (monthLeft < cost) return refuse('QUOTA_EXCEEDED', msToNextMonth(now));
  if (bucket.tokens < cost) return refuse('RATE_LIMITED', Math.ceil((cost - bucket.tokens) / perMs(limits)));

  const tokensLoose = Math.min(Math.max(req.want, cost), Math.floor(bucket.tokens), monthLeft);
  const slots = Math.min(Math.max(req.want, 1), Math.floor(limits.concurrency / 2) - others - h.inflight);
  const loose = tokensLoose > cost && slots >= 2;
  const tokens = loose ? tokensLoose : cost;
  const allowance = h.inflight + (loose ? slots : 1);
  h.inflight += 1;
  h.headroom = allowance - h.inflight;
  h.until = now + req.ttlMs + HEADROOM_GRACE_MS;
  h.grantId = req.grantId;
  s.bucket = { ...bucket, tokens: bucket.tokens - tokens };
  addUsage(s, month, tokens);
  s.grants[req.grantId] = { tokens, month, at: now };
  return { ok: true, limit: limits.burst, remaining: Math.floor(s.bucket.tokens), resetMs: resetOf(limits, s.bucket),
    grantId: req.grantId, tokens, allowance, mode: loose ? 'loose' : 'exact', ttlMs: req.ttlMs };
}

/** A holder's report without asking for anything: releases, settles, refunds. */
export function sync(s: GuardState, report: HolderReport, now: number): void {
  applyReport(s, report, now);
  forgetIfIdle(s, report.holderId, now);
}

/** Admits `cost` units for one request that holds one slot until `releaseOne(leaseId)` or `leaseMs`. */
export function admitOne(s: GuardState, req: AdmitRequest, leaseId: string, now: number): AdmitResult {
  prune(s, now);
  if (s.tenantId === null) s.tenantId = req.tenantId;
  const { limits } = req;
  const bucket = bucketAt(s, limits, now);
  const base = { limit: limits.burst };
  if (heldByOthers(s, '', now) + 1 > limits.concurrency) {
    return { ...base, ok: false, reason: 'CONCURRENCY_LIMIT', remaining: Math.floor(bucket.tokens), resetMs: 0, retryAfterMs: CONCURRENCY_RETRY_MS };
  }
  const month = monthOf(now);
  const monthly = checkMonthly(s.usage[month]?.admitted ?? 0, limits, req.cost, now);
  if (!monthly.ok) return { ...base, ok: false, reason: 'QUOTA_EXCEEDED', remaining: 0, resetMs: msToNextMonth(now), retryAfterMs: monthly.retryAfterMs };
  const r = take(bucket, limits, Math.min(req.cost, limits.burst), now);
  s.bucket = r.state;
  if (!r.ok) return { ...base, ok: false, reason: 'RATE_LIMITED', remaining: r.remaining, resetMs: r.resetMs, retryAfterMs: r.retryAfterMs };
  addUsage(s, month, req.cost);
  const id = REQUEST_LEASE + leaseId;
  s.holders[id] = { inflight: 1, headroom: 0, until: 0, grantId: null, expiresAt: now + (req.leaseMs ?? DEFAULT_LEASE_MS) };
  return { ...base, ok: true, remaining: r.remaining, resetMs: r.resetMs, leaseId: id };
}

/** Ends a per-request lease. Unknown or expired ids, and isolates' holder ids, are ignored. */
export function releaseOne(s: GuardState, leaseId: string): boolean {
  if (!leaseId.startsWith(REQUEST_LEASE) || !s.holders[leaseId]) return false;
  delete s.holders[leaseId];
  return true;
}
