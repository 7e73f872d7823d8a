/**
 * Security refusals at the edge that an operator must be able to find later (a token of one
 * tenant presented on another, a tenant served outside its residency) are appended to the control
 * plane's hash-chained audit log through `audit_append_edge()`, the only audit function the
 * router's control role may call: it writes `edge:<client>` entries of those refusals and nothing
 * else. In the background, and deduplicated per tenant and code (never per client address, which
 * a flood varies freely) per window in an isolate: the first refusal of a window is written at
 * once, the ones after it are counted and written with the next refusal after the window, as
 * `count`. A flood costs the log one entry per tenant, code and minute.
 */
import { neon } from '@neondatabase/serverless';

export interface SecurityEvent { code: string; tenantId: string | null; requestId: string; clientIp: string | null; host: string | null }

export interface SecurityAuditSink {
  /** The append in flight, or null when the event was counted into its window. */
  record(e: SecurityEvent): Promise<void> | null;
}

/** The refusals that are audited (the set `audit_append_edge()` accepts). */
export const AUDITED_REFUSALS: ReadonlySet<string> = new Set(['TENANT_MISMATCH', 'RESIDENCY_VIOLATION']);

/** Per-key windows, pure: which events to write and how many each stands for. */
export class RefusalWindows {
  private readonly windows = new Map<string, { until: number; held: number }>();

  constructor(private readonly windowMs: number, private readonly capacity = 10_000, private readonly now: () => number = Date.now) {}

  /** Counts one event; returns how many events the entry to write now stands for, or null (held). */
  hit(key: string): number | null {
    const now = this.now();
    const w = this.windows.get(key);
    if (w && now < w.until) { w.held++; return null; }
    this.windows.delete(key);
    // Oldest first: a flood over many tenants evicts windows (and their held counts) in order.
    if (this.windows.size >= this.capacity) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(key, { until: now + this.windowMs, held: 0 });
    return (w?.held ?? 0) + 1;
  }

  /** Gives back a count whose write failed, to go out with the key's next entry. */
  restore(key: string, count: number): void {
    const w = this.windows.get(key);
    if (w) w.held += count;
  }
}

/** Appends refusals to the audit log at `controlUrl`, deduplicated per tenant and code. */
export function controlAuditSink(controlUrl: string, windowMs = 60_000): SecurityAuditSink {
  const sql = neon(controlUrl);
  const windows = new RefusalWindows(windowMs);
  return {
    record(e) {
      if (!AUDITED_REFUSALS.has(e.code)) return null;
      const key = `${e.tenantId}:${e.code}`;
      const count = windows.hit(key);
      if (count === null) return null;
      return sql.query('SELECT audit_append_edge($1, $2::uuid, $3, $4, $5::jsonb)', [
        e.code, e.tenantId, e.requestId.slice(0, 128), e.clientIp, JSON.stringify({ host: e.host?.slice(0, 253) ?? null, count }),
      ], { fetchOptions: { signal: AbortSignal.timeout(3_000) } }).then(() => undefined, (err) => {
        windows.restore(key, count);
        console.warn(JSON.stringify({ level: 'warn', msg: 'security audit append failed', requestId: e.requestId, error: String(err).slice(0, 200) }));
      });
    },
  };
}
