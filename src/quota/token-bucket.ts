/**
 * Token bucket, pure: capacity `burst`, refilled continuously at `ratePerMinute`. Time only moves
 * forward: a clock that steps back refills nothing and takes nothing away.
 */
export interface BucketLimits { ratePerMinute: number; burst: number }
export interface BucketState { tokens: number; updatedAt: number }

export type TakeResult =
  | { ok: true; state: BucketState; remaining: number; resetMs: number }
  | { ok: false; state: BucketState; remaining: number; resetMs: number; retryAfterMs: number };

/** A full bucket at `now`. */
export const fullBucket = (limits: BucketLimits, now: number): BucketState => ({ tokens: limits.burst, updatedAt: now });

/** The bucket refilled up to `now`. */
export function refill(state: BucketState, limits: BucketLimits, now: number): BucketState {
  const elapsed = Math.max(0, now - state.updatedAt);
  const perMs = limits.ratePerMinute / 60_000;
  return { tokens: Math.min(limits.burst, state.tokens + elapsed * perMs), updatedAt: Math.max(now, state.updatedAt) };
}

/** Takes `cost` tokens if there are that many; otherwise says how long until there will be. */
export function take(state: BucketState, limits: BucketLimits, cost: number, now: number): TakeResult {
  if (!(cost > 0) || cost > limits.burst) throw new RangeError(`cost must be in (0, burst]: ${cost}`);
  const s = refill(state, limits, now);
  const perMs = limits.ratePerMinute / 60_000;
  if (s.tokens >= cost) {
    const next = { tokens: s.tokens - cost, updatedAt: s.updatedAt };
    return { ok: true, state: next, remaining: Math.floor(next.tokens), resetMs: Math.ceil((limits.burst - next.tokens) / perMs) };
  }
  const retryAfterMs = Math.ceil((cost - s.tokens) / perMs);
  return { ok: false, state: s, remaining: Math.floor(s.tokens), resetMs: Math.ceil((limits.burst - s.tokens) / perMs), retryAfterMs };
}
