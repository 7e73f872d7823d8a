/**
 * CircuitBreaker: one Durable Object per database target (`db:<region>` for a shared regional
 * database, `db:<tenant id>` for a dedicated one). It serialises the transitions of
 * `circuit.ts`, so exactly one probe is let through when the cool-down ends, whichever isolate asks.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.js';
import { closedCircuit, permit, record, type BreakerLimits, type BreakerState, type Permit } from './circuit.js';

export interface BreakerView { status: BreakerState['status']; retryAt: number }

/** The breaker of one database target. */
export class CircuitBreaker extends DurableObject<Env> {
  private state: BreakerState | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS breaker (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)');
      const row = [...ctx.storage.sql.exec<{ state: string }>('SELECT state FROM breaker')][0];
      this.state = row ? (JSON.parse(row.state) as BreakerState) : null;
    });
  }

  /** Asks to send a request to the target. */
  async permit(limits: BreakerLimits): Promise<{ permit: Permit; view: BreakerView }> {
    const r = permit(this.current(limits), limits, Date.now());
    this.save(r.state);
    return { permit: r.permit, view: view(r.state) };
  }

  /** Reports the outcome of a permitted request. */
  async record(ok: boolean, probe: boolean, limits: BreakerLimits): Promise<BreakerView> {
    const next = record(this.current(limits), limits, ok, Date.now(), probe);
    this.save(next);
    return view(next);
  }

  /** The current state, for operators and tests. */
  async view(): Promise<BreakerView> {
    return view(this.state ?? { status: 'closed', events: [], retryAt: 0, cooldownMs: 0, probeSince: null });
  }

  private current(limits: BreakerLimits): BreakerState {
    return this.state ?? closedCircuit(limits);
  }

  private save(s: BreakerState): void {
    if (s === this.state) return;
    this.state = s;
    this.ctx.storage.sql.exec('INSERT OR REPLACE INTO breaker (id, state) VALUES (1, ?)', JSON.stringify(s));
  }
}

const view = (s: BreakerState): BreakerView => ({ status: s.status, retryAt: s.retryAt });
