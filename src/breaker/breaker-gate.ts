/**
 * The isolate's side of the circuit breakers. A known-open circuit is refused from memory until
 * its retry time, a known-closed one is trusted for `closedTtlMs`, so a healthy target costs one
 * Durable Object call per isolate per second rather than one per request. Successes of ordinary
 * requests on a closed circuit are not reported (they change nothing); failures and probe
 * outcomes are, in the background.
 */
import type { Tenant, Tier } from '../tenancy/tenant.js';
import type { BreakerLimits, Permit } from './circuit.js';
import type { BreakerView, CircuitBreaker } from './circuit-breaker.js';
import { within } from '../flight/within.js';

/** The longest a call to a breaker object may take; then it counts as unreachable (the router fails open). */
export const BREAKER_CALL_TIMEOUT_MS = 2_000;

async function bounded<T>(call: Promise<T>, ms: number): Promise<T> {
  const r = await within(call, ms);
  if (!r.settled) throw new Error(`circuit breaker did not answer within ${ms} ms`);
  return r.value;
}

/** The breaker limits of a tier. */
export const breakerLimits = (t: Tier): BreakerLimits => ({
  failures: t.breaker_failures, windowMs: t.breaker_window_seconds * 1000, cooldownMs: t.breaker_cooldown_seconds * 1000,
});

/** The database target a tenant's queries go to: its region's shared database or its own. */
export const breakerTarget = (t: Pick<Tenant, 'id' | 'isolation' | 'region' | 'placement'>): string =>
  t.isolation === 'database' ? `db:${t.id}` : `db:${t.placement?.region ?? t.region}`;

export class BreakerGate {
  private readonly cache = new Map<string, { view: BreakerView; until: number }>();

  constructor(private readonly ns: DurableObjectNamespace<CircuitBreaker>, private readonly closedTtlMs = 1000, private readonly now: () => number = Date.now,
    private readonly callTimeoutMs = BREAKER_CALL_TIMEOUT_MS) {}

  /** Whether a request may go to `target` now, and whether it is the half-open probe. */
  async permit(target: string, limits: BreakerLimits): Promise<Permit> {
    const now = this.now();
    const c = this.cache.get(target);
    if (c && c.view.status !== 'closed' && now < c.until) return { allowed: false, retryAt: c.view.retryAt };
    if (c && c.view.status === 'closed' && now < c.until) return { allowed: true, probe: false };
    const { permit, view } = await bounded(this.stub(target).permit(limits), this.callTimeoutMs);
    // A refused caller re-asks within a second, so the end of a half-open probe is noticed quickly.
    const until = permit.allowed ? now + this.closedTtlMs : Math.min(permit.retryAt, now + 1000);
    this.cache.set(target, { view: permit.allowed ? view : { ...view, status: 'open', retryAt: permit.retryAt }, until });
    return permit;
  }

  /** Reports an outcome; returns without a call when it cannot change anything. */
  async report(target: string, ok: boolean, probe: boolean, limits: BreakerLimits): Promise<void> {
    if (ok && !probe) return;
    const view = await bounded(this.stub(target).record(ok, probe, limits), this.callTimeoutMs);
    this.cache.set(target, { view, until: view.status === 'open' ? view.retryAt : this.now() + this.closedTtlMs });
  }

  /** The object for `target`. */
  stub(target: string): DurableObjectStub<CircuitBreaker> {
    return this.ns.get(this.ns.idFromName(target));
  }
}
