/** Access to the router's Durable Objects from tests. */
import { env } from 'cloudflare:test';
import type { Env } from '../../src/env.js';
import { guardStub } from '../../src/quota/rate-limiter.js';
import { tenant } from './helpers.js';

export const workerEnv = env as unknown as Env;

/**
 * The TenantGuard of any tenant (seeded or made through the API), as the router names it here:
 * the local runtime has no jurisdictions, so the guard jurisdiction does not change the name.
 */
export const guardFor = (t: { id: string }) => guardStub(workerEnv.TENANT_GUARD, { id: t.id, guardJurisdiction: 'global' }, false);

/** The TenantGuard of seeded tenant `slug`, as the router names it. */
export const guardOf = (slug: string) => guardFor(tenant(slug));

/** The CircuitBreaker of a database target (`db:<region>` or `db:<tenant id>`). */
export const breakerOf = (target: string) => workerEnv.CIRCUIT_BREAKER.get(workerEnv.CIRCUIT_BREAKER.idFromName(target));

/** Units a guard's current state has metered, over all months. */
export async function meteredBy(stub: ReturnType<typeof guardFor>): Promise<number> {
  return Object.values(await stub.admitted()).reduce((a, b) => a + b, 0);
}

/** What an object's SQLite holds: rows over all its tables, and whether an alarm is set. */
export function storedIn(state: DurableObjectState): { rows: number; alarm: Promise<number | null> } {
  const sql = state.storage.sql;
  const tables = [...sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'")];
  let rows = 0;
  for (const t of tables) rows += Number([...sql.exec<{ n: number }>(`SELECT count(*) AS n FROM "${t.name.replace(/"/g, '')}"`)][0]?.n ?? 0);
  return { rows, alarm: state.storage.getAlarm() };
}
