/** Helpers of the quota suites: bare tenant rows, object restarts, usage rows. */
import { runInDurableObject } from 'cloudflare:test';
import type { GuardLimits } from '../../src/quota/guard-types.js';
import type { TenantGuard } from '../../src/quota/tenant-guard.js';
import { sqlAt, stack, unique } from '../support/helpers.js';
import { storedIn, workerEnv } from '../support/guards.js';

export const roomy: GuardLimits = { ratePerMinute: 600_000, burst: 10_000, monthlyRequests: 1_000_000, hardCap: false, concurrency: 1_000 };

/** The control database as its owner (assertions and fixtures). */
export const control = () => sqlAt(stack.control.postgresUrl);

/** A tenant row and nothing else (no storage): enough for a TenantGuard to flush for. */
export async function bareTenant(residency: string | null = null): Promise<{ id: string; slug: string }> {
  const slug = unique('g');
  const [row] = await control().query(
    `INSERT INTO tenants (slug, name, tier, region, residency, isolation, status) VALUES ($1, $1, 'STANDARD', 'aws-us-east-2', $2, 'row', 'active') RETURNING id`,
    [slug, residency]) as { id: string }[];
  return { id: row!.id, slug };
}

/** A TenantGuard under a name of its own (not a tenant's). */
export const testGuard = (name = `test:${crypto.randomUUID()}`) => ({ name, stub: workerEnv.TENANT_GUARD.get(workerEnv.TENANT_GUARD.idFromName(name)) });

/**
 * Restarts the object: its in-memory state is gone and the next call loads it from storage.
 * The stub that saw the abort is broken, so a new one is returned (as a router would make).
 */
export async function restart(stub: DurableObjectStub<TenantGuard>, name: string): Promise<DurableObjectStub<TenantGuard>> {
  await runInDurableObject(stub, (_instance, state) => { state.abort('test restart'); }).catch(() => {});
  return workerEnv.TENANT_GUARD.get(workerEnv.TENANT_GUARD.idFromName(name));
}

/** Rows the object stores and its alarm. */
export const storage = (stub: DurableObjectStub<TenantGuard>) =>
  runInDurableObject(stub, async (_i, state) => { const s = storedIn(state); return { rows: s.rows, alarm: await s.alarm }; });

/** The usage rows of a tenant and month, by source. */
export async function usageRows(tenantId: string, month: string): Promise<Record<string, { n: number; seq: number }>> {
  const rows = await control().query('SELECT source, requests::int AS n, flush_seq::int AS seq FROM usage_flushes WHERE tenant_id = $1 AND month = $2',
    [tenantId, month]) as { source: string; n: number; seq: number }[];
  return Object.fromEntries(rows.map((r) => [r.source, { n: r.n, seq: r.seq }]));
}

/** What readers see (the tenant_usage view): the month summed over sources. */
export async function usageTotal(tenantId: string, month: string): Promise<number> {
  const [row] = await control().query('SELECT requests::int AS n FROM tenant_usage WHERE tenant_id = $1 AND month = $2', [tenantId, month]) as { n: number }[];
  return row?.n ?? 0;
}
