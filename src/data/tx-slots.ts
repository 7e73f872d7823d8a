/**
 * How many interactive transactions a tenant may hold open at once in this isolate (pure). Each
 * holds a WebSocket and a server connection for its whole length, so the count is bounded per
 * tenant: by the router's `maxTransactions` and by the tenant's own limit (the hook; by default
 * `tenant.limits.connections`, the tier's `connection_limit`). The bound is per isolate; a fleet-wide one is the quota room's
 * to add (it can feed the same hook).
 */

/** Open-transaction counts per key, each under a limit given at the time a slot is taken. */
export class TransactionSlots {
  private readonly open = new Map<string, number>();

  /** Takes a slot for `key` when fewer than `limit` are taken: its release (idempotent), or null. */
  take(key: string, limit: number): (() => void) | null {
    const n = this.open.get(key) ?? 0;
    if (n >= limit) return null;
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key); else this.open.set(key, left);
    };
  }

  /** Slots taken for `key` now. */
  count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}
