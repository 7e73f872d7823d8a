/**
 * Metering by source (defects 4 and 5): absolute totals per source, idempotent per source,
 * summed for readers; usage that outlives its tenant; a guard that clears itself after its
 * tenant is deleted; flush retries that back off.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { monthOf } from '../../src/quota/monthly.js';
import { writeUsage } from '../../src/quota/usage-sink.js';
import { stack } from '../support/helpers.js';
import { guardFor } from '../support/guards.js';
import { bareTenant, control, roomy, storage, testGuard, usageRows, usageTotal } from './fixtures.js';

describe('usage by source', () => {
  it('sums two objects (sources) of one tenant exactly, each idempotent by its own sequence', async () => {
    const t = await bareTenant();
    const month = monthOf(Date.now());
    const a = testGuard().stub;
    const b = testGuard().stub;
    for (let i = 0; i < 4; i++) await a.admit({ tenantId: t.id, cost: 1, limits: roomy });
    await b.admit({ tenantId: t.id, cost: 7, limits: roomy });
    expect(await runDurableObjectAlarm(a)).toBe(true);
    expect(await runDurableObjectAlarm(b)).toBe(true);
    const [sa, sb] = [(await a.inspect())!, (await b.inspect())!];
    expect(sa.source).not.toBe(sb.source);
    expect(await usageRows(t.id, month)).toEqual({ [sa.source]: { n: 4, seq: 1 }, [sb.source]: { n: 7, seq: 1 } });
    expect(await usageTotal(t.id, month)).toBe(11);

    // A replay (same sequence) and a late flush (older sequence) of one source change nothing.
    await writeUsage(stack.control.routerUrl, t.id, sa.source, 1, [[month, 40]]);
    await writeUsage(stack.control.routerUrl, t.id, sa.source, 0, [[month, 90]]);
    expect(await usageTotal(t.id, month)).toBe(11);
    // More admissions on one object: its row moves, the other's stays.
    await a.admit({ tenantId: t.id, cost: 2, limits: roomy });
    await runDurableObjectAlarm(a);
    expect(await usageTotal(t.id, month)).toBe(13);
  });

  it('keeps usage after its tenant is deleted; the guard then clears its storage and stops, and a late admission meters as a new source', async () => {
    const t = await bareTenant();
    const month = monthOf(Date.now());
    const stub = guardFor(t);
    await stub.admit({ tenantId: t.id, cost: 3, limits: roomy });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const first = (await stub.inspect())!.source;
    // The tenant exists: the object keeps its state, with an (idle-check) alarm.
    expect((await storage(stub)).alarm).not.toBeNull();

    await stub.admit({ tenantId: t.id, cost: 2, limits: roomy });
    await control().query('DELETE FROM tenants WHERE id = $1', [t.id]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // Flushed first (no cascade: the usage stays), then cleared.
    expect(await usageRows(t.id, month)).toEqual({ [first]: { n: 5, seq: 2 } });
    expect(await stub.inspect()).toBeNull();
    expect(await storage(stub)).toEqual({ rows: 0, alarm: null });
    expect(await runDurableObjectAlarm(stub)).toBe(false);

    // A router with a stale cache still sends a request: a fresh state, metered on its own.
    expect((await stub.admit({ tenantId: t.id, cost: 1, limits: roomy })).ok).toBe(true);
    const second = (await stub.inspect())!.source;
    expect(second).not.toBe(first);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await usageTotal(t.id, month)).toBe(6);
    expect(await storage(stub)).toEqual({ rows: 0, alarm: null });
  });

  it('keeps the count when a flush fails and retries with exponential back-off and jitter', async () => {
    const { stub } = testGuard();
    // Not a uuid: Postgres refuses every flush of this object.
    await stub.admit({ tenantId: 'not-a-tenant', cost: 2, limits: roomy });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      delays.push((await storage(stub)).alarm! - before);
    }
    expect((await stub.inspect())?.failures).toBe(3);
    expect(Object.values(await stub.admitted())).toEqual([2]);
    // Retry n waits between half and all of 5 s × 2^(n-1).
    for (const [i, d] of delays.entries()) {
      const full = 5_000 * 2 ** i;
      expect(d).toBeGreaterThanOrEqual(full / 2 - 50);
      expect(d).toBeLessThanOrEqual(full + 1_000);
    }
    // New admissions during an outage do not cut the back-off short.
    const due = (await storage(stub)).alarm;
    await stub.admit({ tenantId: 'not-a-tenant', cost: 1, limits: roomy });
    expect((await storage(stub)).alarm).toBe(due);
  });
});

describe('usage sink', () => {
  it('gives up a flush the control database does not answer in time (and reports whether the tenant exists)', async () => {
    const t = await bareTenant();
    const month = monthOf(Date.now());
    await expect(writeUsage(stack.control.routerUrl, t.id, 'sink-test', 1, [[month, 3]], 0)).rejects.toThrow(/timeout|abort/i);
    expect(await writeUsage(stack.control.routerUrl, t.id, 'sink-test', 1, [[month, 3]])).toEqual({ tenantExists: true });
    expect(await writeUsage(stack.control.routerUrl, crypto.randomUUID(), 'sink-test', 1, [])).toEqual({ tenantExists: false });
    expect(await usageRows(t.id, month)).toEqual({ 'sink-test': { n: 3, seq: 1 } });
  });
});
