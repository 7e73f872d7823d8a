/**
 * How many tokens an isolate leases at once, pure. Below 20 requests/s a tenant is served
 * exactly (one object call per request: every token counts, and the object copes easily).
 * Above, an isolate leases about 50 ms of the tenant's rate, at most a tenth of the burst (so
 * one isolate cannot drain the bucket others need) and at most 100. Near the limit the object
 * grants less than asked, so a tenant at its limit gets smaller and smaller batches.
 */
import type { GuardLimits } from './guard-types.js';

export const LEASE_TTL_MS = 1000;
const EXACT_BELOW_PER_SEC = 20;

/** Tokens to ask for per lease; 1 means no leasing. */
export function leaseSize(limits: Pick<GuardLimits, 'ratePerMinute' | 'burst'>): number {
  const perSec = limits.ratePerMinute / 60;
  if (perSec < EXACT_BELOW_PER_SEC) return 1;
  return Math.max(1, Math.min(Math.floor(perSec / 20), Math.floor(limits.burst / 10), 100));
}
