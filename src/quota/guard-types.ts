/** The messages between the isolates' rate limiters and a tenant's TenantGuard object. */
import type { MeterReport } from './byte-meter.js';

export interface GuardLimits { ratePerMinute: number; burst: number; monthlyRequests: number; hardCap: boolean; concurrency: number }
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

/** One request admitted on its own (QUOTA_LEASING=false): it holds one slot until released or `leaseMs`. */
export interface AdmitRequest { tenantId: string; cost: number; limits: GuardLimits; leaseMs?: number }

/** Unused tokens of a grant, given back. */
export interface Returned { grantId: string; tokens: number }

/**
 * What an isolate (a "holder", a random id per isolate and tenant) tells the object on every
 * call: how many of its requests are still running, and the tokens it gives back.
 */
export interface HolderReport {
  tenantId: string;
  holderId: string;
  /** This holder's requests still running, not counting one being admitted by this call. */
  inflight: number;
  returned?: Returned[];
  /** Grants whose answer never arrived (the call threw): refunded in full if the object recorded them. */
  abandoned?: string[];
  /** This holder's body bytes (bandwidth), cumulative; the holder id is the meter's id. */
  meter?: MeterReport;
  limits: GuardLimits;
}

/** A byte meter's report on its own (no leasing: QUOTA_LEASING=false). */
export interface MeterCall { tenantId: string; meterId: string; meter: MeterReport }

/** Asks for tokens and concurrency allowance; the grant admits the request that asked. */
export interface LeaseRequest extends HolderReport {
  /** Chosen by the isolate, so that a grant whose answer was lost can be named and refunded. */
  grantId: string;
  /** Tokens wanted (the lease size, at least `cost`); fewer may be granted. */
  want: number;
  /** Units of the request waiting for this grant. */
  cost: number;
  ttlMs: number;
}

/**
 * `loose`: up to `want` tokens and an allowance of running requests above the holder's own,
 * valid for `ttlMs` (only while every holding fits in half the concurrency). `exact`: tokens ==
 * cost and allowance == inflight + 1, i.e. just the asking request; the isolate then reports
 * every release.
 */
export interface LeaseGrant extends AdmitResult {
  grantId: string;
  tokens: number;
  allowance: number;
  mode: 'loose' | 'exact';
  ttlMs: number;
}
