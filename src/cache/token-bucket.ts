/**
 * A token bucket: `burst` tokens, refilled continuously at `perSecond`. Pure (the clock is
 * injected), one per isolate where it guards a costly call.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly burst: number, private readonly perSecond: number, private readonly now: () => number = Date.now) {
    if (!(burst >= 1) || !(perSecond > 0)) throw new Error('burst must be at least 1 and perSecond positive');
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token if there is one; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    // A clock that steps back refills nothing (rather than draining the bucket).
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, t - this.last) / 1000 * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
