/**
 * Circuit breaker transitions, pure. closed → open after `failures` failures (or a failure ratio
 * of at least `ratio` over at least `minRequests`) within a rolling `windowMs`; open → half-open
 * after the cool-down, where exactly one probe is let through; the probe's success closes the
 * circuit, its failure opens it again with the cool-down doubled (up to `maxCooldownMs`).
 * A probe that never reports back is given up after `probeTimeoutMs`, so one lost isolate
 * cannot wedge the circuit half-open.
 */
export interface BreakerLimits {
  failures: number;
  windowMs: number;
  cooldownMs: number;
  maxCooldownMs?: number;
  ratio?: number;
  minRequests?: number;
  probeTimeoutMs?: number;
}

export interface BreakerState {
  status: 'closed' | 'open' | 'half_open';
  /** Outcomes inside the window: [timestamp, ok]. */
  events: [number, boolean][];
  retryAt: number;
  cooldownMs: number;
  probeSince: number | null;
}

export type Permit = { allowed: true; probe: boolean } | { allowed: false; retryAt: number };

/** A closed circuit. */
export const closedCircuit = (limits: BreakerLimits): BreakerState => ({ status: 'closed', events: [], retryAt: 0, cooldownMs: limits.cooldownMs, probeSince: null });

/** Asks to send one request at `now`. */
export function permit(s: BreakerState, limits: BreakerLimits, now: number): { state: BreakerState; permit: Permit } {
  if (s.status === 'closed') return { state: s, permit: { allowed: true, probe: false } };
  if (s.status === 'open') {
    if (now < s.retryAt) return { state: s, permit: { allowed: false, retryAt: s.retryAt } };
    return { state: { ...s, status: 'half_open', probeSince: now }, permit: { allowed: true, probe: true } };
  }
  const timeout = limits.probeTimeoutMs ?? 10_000;
  if (s.probeSince !== null && now - s.probeSince < timeout) return { state: s, permit: { allowed: false, retryAt: s.probeSince + timeout } };
  return { state: { ...s, probeSince: now }, permit: { allowed: true, probe: true } };
}

/** Records the outcome of a request that was permitted at `now`. */
export function record(s: BreakerState, limits: BreakerLimits, ok: boolean, now: number, probe: boolean): BreakerState {
  if (s.status === 'half_open' && probe) {
    if (ok) return closedCircuit(limits);
    const cooldownMs = Math.min(s.cooldownMs * 2, limits.maxCooldownMs ?? limits.cooldownMs * 16);
    return { status: 'open', events: [], retryAt: now + cooldownMs, cooldownMs, probeSince: null };
  }
  if (s.status !== 'closed') return s;
  const events = [...s.events.filter(([t]) => t > now - limits.windowMs), [now, ok] as [number, boolean]];
  const failed = events.filter(([, good]) => !good).length;
  const byRatio = limits.ratio !== undefined && events.length >= (limits.minRequests ?? 10) && failed / events.length >= limits.ratio;
  if (!ok && (failed >= limits.failures || byRatio)) {
    return { status: 'open', events: [], retryAt: now + limits.cooldownMs, cooldownMs: limits.cooldownMs, probeSince: null };
  }
  // Bound memory on a busy, healthy target: only the last `failures * 4` outcomes matter for the count.
  return { ...s, events: events.slice(-Math.max(limits.failures * 4, limits.minRequests ?? 10, 64)) };
}
