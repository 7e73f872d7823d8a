/** TenantGuard through workerd: durability across restarts, alarms, and exact, idempotent metering. */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { monthOf } from '../../src/quota/monthly.js';
import type { GuardLimits, TenantGuard } from '../../src/quota/tenant-guard.js';
import { writeUsage } from '../../src/quota/usage-sink.js';
import { call, platformToken, sqlAt, stack, tenant } from '../support/helpers.js';
import { guardOf, workerEnv } from '../support/guards.js';

const roomy: GuardLimits = { ratePerMinute: 600_000, burst: 10_000, monthlyRequests: 1_000_000, hardCap: false, concurrency: 1_000 };

/**
 * Restarts the object: its in-memory state is gone and the next call loads it from storage.
 * The stub that saw the abort is broken, so a new one is returned (as a router would make).
 */
async function restart(stub: DurableObjectStub<TenantGuard>, name: string): Promise<DurableObjectStub<TenantGuard>> {
  await runInDurableObject(stub, (_instance, state) => { state.abort('test restart'); }).catch(() => {});
  return workerEnv.TENANT_GUARD.get(workerEnv.TENANT_GUARD.idFromName(name));
}

async function usageInPostgres(slug: string): Promise<number> {
  const rows = await sqlAt(stack.control.postgresUrl).query('SELECT requests FROM tenant_usage WHERE tenant_id = $1 AND month = $2',
    [tenant(slug).id, monthOf(Date.now())]) as { requests: string | number }[];
  return rows[0] ? Number(rows[0].requests) : 0;
}

describe('TenantGuard object', () => {
  it('keeps its counts and leases across a restart', async () => {
    const name = `test:${crypto.randomUUID()}`;
    let stub = workerEnv.TENANT_GUARD.get(workerEnv.TENANT_GUARD.idFromName(name));
    const limits = { ...roomy, concurrency: 2 };
    const a = await stub.admit({ tenantId: tenant('q-meter').id, cost: 3, limits });
    const b = await stub.admit({ tenantId: tenant('q-meter').id, cost: 1, limits });
    expect(a.ok && b.ok).toBe(true);
    stub = await restart(stub, name);
    expect(await stub.admitted()).toEqual({ [monthOf(Date.now())]: 4 });
    // Both leases survived the restart, so a third concurrent request is refused.
    expect(await stub.admit({ tenantId: tenant('q-meter').id, cost: 1, limits })).toMatchObject({ ok: false, reason: 'CONCURRENCY_LIMIT' });
    await stub.release(a.leaseId!);
    expect((await stub.admit({ tenantId: tenant('q-meter').id, cost: 1, limits })).ok).toBe(true);
  });

  it('lets a lease expire on its own when its isolate never releases it', async () => {
    const stub = workerEnv.TENANT_GUARD.get(workerEnv.TENANT_GUARD.idFromName(`test:${crypto.randomUUID()}`));
    const limits = { ...roomy, concurrency: 1 };
    expect((await stub.admit({ tenantId: tenant('q-meter').id, cost: 1, limits, leaseMs: 300 })).ok).toBe(true);
    expect((await stub.admit({ tenantId: tenant('q-meter').id, cost: 1, limits })).reason).toBe('CONCURRENCY_LIMIT');
    await new Promise((r) => setTimeout(r, 350));
    expect((await stub.admit({ tenantId: tenant('q-meter').id, cost: 1, limits })).ok).toBe(true);
  });

  it('meters exactly what it admitted, through restarts and repeated flushes', async () => {
    const name = `tenant:${tenant('q-meter').id}`;
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
    expect((await stub.admitted())[monthOf(Date.now())]).toBe(admittedUnits);
    expect(await usageInPostgres('q-meter')).toBe(admittedUnits);
  });

  it('ignores a replayed or out-of-order flush', async () => {
    const id = tenant('q-eu').id;
    const month = '2026-01';
    await writeUsage(stack.control.routerUrl, id, 5, [[month, 100]]);
    await writeUsage(stack.control.routerUrl, id, 5, [[month, 100]]);
    await writeUsage(stack.control.routerUrl, id, 4, [[month, 90]]);
    const rows = await sqlAt(stack.control.postgresUrl).query('SELECT requests::int AS n, flush_seq::int AS seq FROM tenant_usage WHERE tenant_id = $1 AND month = $2', [id, month]);
    expect(rows).toEqual([{ n: 100, seq: 5 }]);
  });

  it('keeps the count and retries later when Postgres refuses the flush', async () => {
    const stub = workerEnv.TENANT_GUARD.get(workerEnv.TENANT_GUARD.idFromName(`test:${crypto.randomUUID()}`));
    // A tenant id that is not in the control database: the foreign key refuses the write.
    const ghost = crypto.randomUUID();
    expect((await stub.admit({ tenantId: ghost, cost: 2, limits: roomy })).ok).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.admitted()).toEqual({ [monthOf(Date.now())]: 2 });
    const next = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(next).not.toBeNull();
  });
});
