/** TenantGuard through workerd: durability across restarts, per-request leases, grants and refunds. */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { monthOf } from '../../src/quota/monthly.js';
import type { LeaseRequest } from '../../src/quota/guard-types.js';
import { call, platformToken, tenant } from '../support/helpers.js';
import { guardOf, meteredBy } from '../support/guards.js';
import { bareTenant, control, restart, roomy, testGuard, usageRows } from './fixtures.js';

const ghost = () => crypto.randomUUID();

describe('TenantGuard object', () => {
  it('keeps its counts and leases across a restart', async () => {
    const tenantId = ghost();
    let { name, stub } = testGuard();
    const limits = { ...roomy, concurrency: 2 };
    const a = await stub.admit({ tenantId, cost: 3, limits });
    const b = await stub.admit({ tenantId, cost: 1, limits });
    expect(a.ok && b.ok).toBe(true);
    stub = await restart(stub, name);
    expect(await stub.admitted()).toEqual({ [monthOf(Date.now())]: 4 });
    // Both leases survived the restart, so a third concurrent request is refused.
    expect(await stub.admit({ tenantId, cost: 1, limits })).toMatchObject({ ok: false, reason: 'CONCURRENCY_LIMIT' });
    await stub.release(a.leaseId!);
    expect((await stub.admit({ tenantId, cost: 1, limits })).ok).toBe(true);
  });

  it('lets a lease expire on its own when its isolate never releases it', async () => {
    const { stub } = testGuard();
    const tenantId = ghost();
    const limits = { ...roomy, concurrency: 1 };
    expect((await stub.admit({ tenantId, cost: 1, limits, leaseMs: 300 })).ok).toBe(true);
    expect((await stub.admit({ tenantId, cost: 1, limits })).reason).toBe('CONCURRENCY_LIMIT');
    await new Promise((r) => setTimeout(r, 350));
    expect((await stub.admit({ tenantId, cost: 1, limits })).ok).toBe(true);
  });

  it('never locks a holder out on its own stale count: grants it never gave back do not add up (defect 1)', async () => {
    // Old behaviour: each refill carried the previous lease's in-flight count forward and a release
    // under an older lease was ignored, so the count only grew. Here one isolate refills 20 times
    // with 3 requests running and never returns a grant; concurrency 4 still admits every time.
    const { stub } = testGuard();
    const tenantId = ghost();
    const req = (i: number): LeaseRequest => ({ tenantId, holderId: 'h1', grantId: `g${i}`, want: 5, cost: 1, inflight: 3, ttlMs: 1000, limits: { ...roomy, concurrency: 4 } });
    for (let i = 0; i < 20; i++) expect(await stub.lease(req(i))).toMatchObject({ ok: true, mode: 'exact', tokens: 1, allowance: 4 });
    // A second isolate is refused while the first holds all four, and admitted once it reports a release.
    const other = { ...req(99), holderId: 'h2', inflight: 0 };
    expect(await stub.lease(other)).toMatchObject({ ok: false, reason: 'CONCURRENCY_LIMIT' });
    await stub.sync({ tenantId, holderId: 'h1', inflight: 3, limits: req(0).limits });
    expect(await stub.lease({ ...other, grantId: 'g100' })).toMatchObject({ ok: true, allowance: 1 });
  });

  it('remembers a grant reported abandoned before the object ever saw it: its late lease is metered 0', async () => {
    // The abandon report overtook the lease call (first call to an object with no state yet).
    const { stub } = testGuard();
    const tenantId = ghost();
    const limits = { ...roomy, concurrency: 10 };
    await stub.sync({ tenantId, holderId: 'h1', inflight: 0, abandoned: ['late'], limits });
    const g = await stub.lease({ tenantId, holderId: 'h1', grantId: 'late', want: 50, cost: 1, ttlMs: 1000, inflight: 0, limits });
    expect(g.ok ? g.tokens : 0).toBe(0);
    expect(await meteredBy(stub)).toBe(0);
  });

  it('grants headroom only within half the concurrency, and takes unused tokens back by grant id', async () => {
    const { stub } = testGuard();
    const tenantId = ghost();
    const limits = { ...roomy, concurrency: 10 };
    const base = { tenantId, want: 50, cost: 1, ttlMs: 1000, limits };
    const g1 = await stub.lease({ ...base, holderId: 'h1', grantId: 'a', inflight: 0 });
    expect(g1).toMatchObject({ ok: true, mode: 'loose', tokens: 50, allowance: 5 });
    // h1 may hold 5: another holder's grant must fit in the 0 that is left of half of 10.
    const g2 = await stub.lease({ ...base, holderId: 'h2', grantId: 'b', inflight: 0 });
    expect(g2).toMatchObject({ ok: true, mode: 'exact', tokens: 1, allowance: 1 });
    expect(await meteredBy(stub)).toBe(51);
    await stub.sync({ tenantId, holderId: 'h1', inflight: 2, returned: [{ grantId: 'a', tokens: 45 }], limits });
    expect(await meteredBy(stub)).toBe(6);
    const state = await stub.inspect();
    expect(state?.grants).toEqual({ b: expect.objectContaining({ tokens: 1 }) });
    expect(state?.holders.h1).toMatchObject({ inflight: 2, headroom: 0 });
    // A second return of the same grant refunds nothing.
    await stub.sync({ tenantId, holderId: 'h1', inflight: 2, returned: [{ grantId: 'a', tokens: 45 }], limits });
    expect(await meteredBy(stub)).toBe(6);
  });

  it('refunds a grant whose answer was lost, and grants nothing to that call if it arrives late', async () => {
    const { stub } = testGuard();
    const tenantId = ghost();
    const req: LeaseRequest = { tenantId, holderId: 'h1', grantId: 'lost', want: 40, cost: 2, inflight: 0, ttlMs: 1000, limits: roomy };
    expect(await stub.lease(req)).toMatchObject({ ok: true, tokens: 40 });
    await stub.sync({ tenantId, holderId: 'h1', inflight: 0, abandoned: ['lost'], limits: roomy });
    expect(await meteredBy(stub)).toBe(0);
    expect((await stub.inspect())?.bucket?.tokens).toBeGreaterThanOrEqual(roomy.burst - 1);
    expect(await stub.lease(req)).toMatchObject({ ok: false });
    expect(await meteredBy(stub)).toBe(0);
  });

  it('meters exactly what the router admitted, through restarts and repeated flushes', async () => {
    // q-meter is below 20 requests/s: every request is granted exactly (tokens == cost).
    const t = tenant('q-meter');
    const name = `tenant:${t.id}`;
    let stub = guardOf('q-meter');
    const token = await platformToken('q-meter');
    let admittedUnits = 0;
    for (let round = 0; round < 3; round++) {
      const responses = await Promise.all(Array.from({ length: 12 }, (_, i) =>
        i % 3 === 0
          ? call('q-meter.localhost', '/api/v1/tracks', { method: 'POST', token, body: JSON.stringify({ title: `m${round}-${i}`, artist: 'm', durationMs: 1 }), headers: { 'content-type': 'application/json' } })
          : call('q-meter.localhost', '/api/v1/tracks', { token })));
      for (const [i, r] of responses.entries()) if (r.status < 400) admittedUnits += i % 3 === 0 ? 2 : 1;
      // Flush in some rounds, not in others; restart the object between every round.
      if (round !== 1) expect(await runDurableObjectAlarm(stub)).toBe(true);
      stub = await restart(stub, name);
    }
    await runDurableObjectAlarm(stub);
    await runDurableObjectAlarm(stub);
    expect(admittedUnits).toBe(3 * (4 * 2 + 8));
    const month = monthOf(Date.now());
    expect((await stub.admitted())[month]).toBe(admittedUnits);
    const source = (await stub.inspect())!.source;
    expect((await usageRows(t.id, month))[source]?.n).toBe(admittedUnits);
  });

  it('converts the storage of an object from before, which keeps flushing as source "legacy"', async () => {
    const t = await bareTenant();
    const month = monthOf(Date.now());
    await control().query("INSERT INTO usage_flushes (tenant_id, month, source, requests, flush_seq) VALUES ($1, $2, 'legacy', 5, 3)", [t.id, month]);
    let { name, stub } = testGuard();
    await runInDurableObject(stub, (_i, state) => {
      const sql = state.storage.sql;
      sql.exec('CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
      sql.exec('CREATE TABLE usage (month TEXT PRIMARY KEY, admitted INTEGER NOT NULL, flushed INTEGER NOT NULL DEFAULT 0)');
      sql.exec('CREATE TABLE leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, slots INTEGER NOT NULL DEFAULT 1)');
      sql.exec("INSERT INTO meta VALUES ('tenant', ?), ('seq', '3'), ('bucket', ?)", t.id, JSON.stringify({ tokens: 7, updatedAt: Date.now() }));
      sql.exec('INSERT INTO usage VALUES (?, 7, 5)', month);
      sql.exec('INSERT INTO leases VALUES (?, ?, 1)', 'old', Date.now() + 60_000);
    });
    stub = await restart(stub, name);
    const state = await stub.inspect();
    expect(state).toMatchObject({ source: 'legacy', tenantId: t.id, seq: 3, usage: { [month]: { admitted: 7, flushed: 5 } } });
    expect(state?.holders['lease:old']).toMatchObject({ inflight: 1 });
    await stub.admit({ tenantId: t.id, cost: 1, limits: roomy });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await usageRows(t.id, month)).toEqual({ legacy: { n: 8, seq: 4 } });
    const tables = await runInDurableObject(stub, (_i, s) => [...s.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'")].map((r) => r.name));
    expect(tables).toEqual(['meta']);
  });
});
