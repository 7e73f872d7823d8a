/**
 * CircuitBreaker: one Durable Object per database target (`db:<region>` for a shared regional
 * database, `db:<tenant id>` for a dedicated one). It serialises the transitions of
 * `circuit.ts`, so exactly one probe is let through when the cool-down ends, whichever isolate asks.
 *
 * It stores only what a fresh closed circuit would not know: recent failures, or an open or
 * half-open circuit. A closed circuit with no failure in its window holds no storage at all (so
 * a deleted tenant's `db:<id>` leaves nothing behind), and an alarm prunes failures as they leave
 * the window and forgets an open circuit nobody has asked about for a minute past its retry time.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.js';
import { closedCircuit, permit, record, type BreakerLimits, type BreakerState, type Permit } from './circuit.js';

export interface BreakerView { status: BreakerState['status']; retryAt: number }

/** An open circuit untouched this long after its retry time is forgotten (the next request is let through as if closed). */
export const FORGET_AFTER_MS = 60_000;
const DEFAULT_WINDOW_MS = 30_000;

/**
 * Until when `s` must be kept, or null when it can be forgotten at `now` (a fresh closed
 * circuit would behave the same), pure. Closed: until its oldest failure leaves the window.
 */
export function keepUntil(s: BreakerState, windowMs: number, now: number): number | null {
  if (s.status === 'closed') {
    let oldest = Infinity;
    for (const [t, ok] of s.events) if (!ok && t > now - windowMs) oldest = Math.min(oldest, t);
    return oldest === Infinity ? null : oldest + windowMs;
  }
  const until = (s.status === 'open' ? s.retryAt : (s.probeSince ?? now)) + FORGET_AFTER_MS;
  return until <= now ? null : until;
}

/** The breaker of one database target. */
export class CircuitBreaker extends DurableObject<Env> {
  private state: BreakerState | null = null;
  /** The failure window of the limits last seen (the alarm has no limits of its own). */
  private windowMs = DEFAULT_WINDOW_MS;
  private persisted = false;
  private wakeAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const hasTable = [...ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'breaker'")].length > 0;
      const row = hasTable ? [...ctx.storage.sql.exec<{ state: string }>('SELECT state FROM breaker')][0] : undefined;
      if (row) {
        // Rows written before the window was stored hold the bare state.
        const v = JSON.parse(row.state) as { state: BreakerState; windowMs: number } | BreakerState;
        this.state = 'windowMs' in v ? v.state : v;
        if ('windowMs' in v) this.windowMs = v.windowMs;
        this.persisted = true;
      }
      this.wakeAt = await ctx.storage.getAlarm();
    });
  }

  /** Asks to send a request to the target. */
  async permit(limits: BreakerLimits): Promise<{ permit: Permit; view: BreakerView }> {
    const r = permit(this.current(limits), limits, Date.now());
    await this.save(r.state, limits.windowMs);
    return { permit: r.permit, view: view(r.state) };
  }

  /** Reports the outcome of a permitted request. */
  async record(ok: boolean, probe: boolean, limits: BreakerLimits): Promise<BreakerView> {
    const next = record(this.current(limits), limits, ok, Date.now(), probe);
    await this.save(next, limits.windowMs);
    return view(next);
  }

  /** The current state, for operators and tests. */
  async view(): Promise<BreakerView> {
    return view(this.state ?? { status: 'closed', events: [], retryAt: 0, cooldownMs: 0, probeSince: null });
  }

  /** Drops failures that left the window; forgets the state once nothing in it matters. */
  override async alarm(): Promise<void> {
    this.wakeAt = null;
    const now = Date.now();
    const s = this.state;
    if (!s) { await this.save(null, this.windowMs); return; }
    await this.save({ ...s, events: s.events.filter(([t]) => t > now - this.windowMs) }, this.windowMs);
  }

  private current(limits: BreakerLimits): BreakerState {
    return this.state ?? closedCircuit(limits);
  }

  /** Keeps `s` in memory, and in storage only while it matters, with an alarm for when it stops mattering. */
  private async save(s: BreakerState | null, windowMs: number): Promise<void> {
    const changed = s !== this.state || windowMs !== this.windowMs;
    const until = s ? keepUntil(s, windowMs, Date.now()) : null;
    this.windowMs = windowMs;
    if (until === null) {
      this.state = null;
      if (this.persisted || this.wakeAt !== null) {
        this.persisted = false;
        this.wakeAt = null;
        await this.ctx.storage.deleteAlarm();
        await this.ctx.storage.deleteAll();
      }
      return;
    }
    this.state = s;
    if (changed || !this.persisted) {
      this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS breaker (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)');
      this.ctx.storage.sql.exec('INSERT OR REPLACE INTO breaker (id, state) VALUES (1, ?)', JSON.stringify({ state: s, windowMs }));
      this.persisted = true;
    }
    if (this.wakeAt !== until) {
      this.wakeAt = until;
      await this.ctx.storage.setAlarm(until);
    }
  }
}

const view = (s: BreakerState): BreakerView => ({ status: s.status, retryAt: s.retryAt });
