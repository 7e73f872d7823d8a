import { describe, expect, it } from 'vitest';
import { closedCircuit, permit, record, type BreakerLimits, type BreakerState } from '../../src/breaker/circuit.js';

const L: BreakerLimits = { failures: 3, windowMs: 10_000, cooldownMs: 1_000, maxCooldownMs: 4_000, probeTimeoutMs: 5_000 };
const fail = (s: BreakerState, now: number) => record(s, L, false, now, false);

describe('circuit breaker', () => {
  it('opens after N failures inside the window, not when they are spread beyond it', () => {
    let s = closedCircuit(L);
    s = fail(s, 0); s = fail(s, 1);
    expect(s.status).toBe('closed');
    s = fail(s, 2);
    expect(s).toMatchObject({ status: 'open', retryAt: 1002 });

    let spread = closedCircuit(L);
    for (const t of [0, 6_000, 12_000, 18_000]) spread = fail(spread, t);
    expect(spread.status).toBe('closed');
  });

  it('opens on a failure ratio over enough requests', () => {
    const R = { ...L, failures: 100, ratio: 0.5, minRequests: 4 };
    let s = closedCircuit(R);
    for (const [t, ok] of [[0, true], [1, false], [2, true]] as const) s = record(s, R, ok, t, false);
    expect(s.status).toBe('closed');
    s = record(s, R, false, 3, false);
    expect(s.status).toBe('open');
  });

  it('refuses while open, then lets exactly one probe through after the cool-down', () => {
    let s = fail(fail(fail(closedCircuit(L), 0), 0), 0);
    expect(permit(s, L, 999).permit).toEqual({ allowed: false, retryAt: 1000 });
    const first = permit(s, L, 1000);
    expect(first.permit).toEqual({ allowed: true, probe: true });
    s = first.state;
    expect(s.status).toBe('half_open');
    expect(permit(s, L, 1001).permit.allowed).toBe(false);
    expect(permit(s, L, 1500).permit.allowed).toBe(false);
  });

  it('closes on a successful probe', () => {
    let s = permit(fail(fail(fail(closedCircuit(L), 0), 0), 0), L, 1000).state;
    s = record(s, L, true, 1100, true);
    expect(s.status).toBe('closed');
    expect(permit(s, L, 1101).permit).toEqual({ allowed: true, probe: false });
  });

  it('re-opens on a failed probe with a doubled, capped cool-down', () => {
    let s = permit(fail(fail(fail(closedCircuit(L), 0), 0), 0), L, 1000).state;
    s = record(s, L, false, 1000, true);
    expect(s).toMatchObject({ status: 'open', retryAt: 3000, cooldownMs: 2000 });
    s = record(permit(s, L, 3000).state, L, false, 3000, true);
    expect(s).toMatchObject({ retryAt: 7000, cooldownMs: 4000 });
    s = record(permit(s, L, 7000).state, L, false, 7000, true);
    expect(s.cooldownMs).toBe(4000);
  });

  it('ignores late outcomes of ordinary requests while half-open', () => {
    const s = permit(fail(fail(fail(closedCircuit(L), 0), 0), 0), L, 1000).state;
    expect(record(s, L, true, 1001, false)).toBe(s);
    expect(record(s, L, false, 1001, false)).toBe(s);
  });

  it('gives up on a probe that never reports and lets another through', () => {
    const s = permit(fail(fail(fail(closedCircuit(L), 0), 0), 0), L, 1000).state;
    expect(permit(s, L, 5999).permit.allowed).toBe(false);
    expect(permit(s, L, 6000).permit).toEqual({ allowed: true, probe: true });
  });
});
