/**
 * CircuitBreaker storage: nothing stored while closed without recent failures (a deleted
 * dedicated-database tenant's `db:<id>` object leaves nothing behind); failures and open
 * circuits are stored, survive restarts, and an alarm prunes them once they stop mattering.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { FORGET_AFTER_MS, keepUntil } from '../../src/breaker/circuit-breaker.js';
import type { BreakerLimits } from '../../src/breaker/circuit.js';
import { breakerOf, storedIn } from '../support/guards.js';

const L: BreakerLimits = { failures: 3, windowMs: 300, cooldownMs: 100 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stored = (b: ReturnType<typeof breakerOf>) =>
  runInDurableObject(b, async (_i, state) => { const s = storedIn(state); return { rows: s.rows, alarm: await s.alarm }; });

describe('CircuitBreaker storage', () => {
  it('stores nothing for a healthy target, and forgets failures once they leave the window', async () => {
    // A window long enough that a loaded machine reads the stored failure before its alarm fires.
    const L = { failures: 3, windowMs: 1_500, cooldownMs: 100 } satisfies BreakerLimits;
    const b = breakerOf(`db:${crypto.randomUUID()}`);
    expect((await b.permit(L)).permit).toEqual({ allowed: true, probe: false });
    expect(await b.record(true, false, L)).toMatchObject({ status: 'closed' });
    expect(await stored(b)).toEqual({ rows: 0, alarm: null });

    const before = Date.now();
    await b.record(false, false, L);
    const s = await stored(b);
    expect(s.rows).toBe(1);
    expect(s.alarm).toBeGreaterThanOrEqual(before + L.windowMs);
    // The alarm fires on its own when the failure leaves the window.
    await sleep(L.windowMs + 300);
    expect(await stored(b)).toEqual({ rows: 0, alarm: null });
    expect(await runDurableObjectAlarm(b)).toBe(false);
    // The forgotten failure no longer counts: two more do not open the circuit.
    await b.record(false, false, L);
    expect(await b.record(false, false, L)).toMatchObject({ status: 'closed' });
  });

  it('keeps an open circuit across a restart, and drops everything when a probe closes it', async () => {
    const name = `db:${crypto.randomUUID()}`;
    let b = breakerOf(name);
    for (let i = 0; i < 3; i++) await b.record(false, false, L);
    expect(await b.view()).toMatchObject({ status: 'open' });
    const open = await stored(b);
    expect(open.rows).toBe(1);
    expect(open.alarm).toBeGreaterThan(Date.now() + FORGET_AFTER_MS - 1_000);
    await runInDurableObject(b, (_i, state) => { state.abort('test restart'); }).catch(() => {});
    b = breakerOf(name);
    expect(await b.view()).toMatchObject({ status: 'open' });
    await sleep(L.cooldownMs + 20);
    expect((await b.permit(L)).permit).toEqual({ allowed: true, probe: true });
    expect(await b.record(true, true, L)).toMatchObject({ status: 'closed' });
    expect(await stored(b)).toEqual({ rows: 0, alarm: null });
  });

  it('forgets an open circuit nobody asked about for a minute past its retry time', () => {
    const open = { status: 'open' as const, events: [], retryAt: 10_000, cooldownMs: 100, probeSince: null };
    expect(keepUntil(open, 300, 10_000)).toBe(10_000 + FORGET_AFTER_MS);
    expect(keepUntil(open, 300, 10_000 + FORGET_AFTER_MS)).toBeNull();
    const closed = { status: 'closed' as const, events: [[1_000, true], [1_100, false], [1_200, false]] as [number, boolean][], retryAt: 0, cooldownMs: 100, probeSince: null };
    expect(keepUntil(closed, 300, 1_250)).toBe(1_400);
    expect(keepUntil(closed, 300, 1_500)).toBeNull();
  });
});
