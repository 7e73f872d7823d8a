/**
 * The `router` schema's objects as the owner side uses them (src/data/router-schema.ts has the
 * SQL): installing and granting them, checking a serving role, and fencing a tenant. Every
 * function takes a client connected as the database's owner.
 */
import type { Client } from '@neondatabase/serverless';
import { FENCE_LOCK_CLASS, ROUTER_SCHEMA_PROBE, ROUTER_SCHEMA_SQL, routerGrantsSql, WRITE_FENCE_LOCK_CLASS } from '../data/router-schema.js';
import { inTransaction, withClient } from './pg-client.js';

/** The reason recorded with the fence of a deleted tenant. */
export const DELETED = 'tenant deleted';

/** Creates or updates the `router` schema and lets `role` call `router.enter`; idempotent. */
export async function installRouterSchema(c: Client, role: string): Promise<void> {
  await c.query(ROUTER_SCHEMA_SQL);
  await c.query(routerGrantsSql(role));
}

/** Whether this database has the current `router` schema (databases made before it, or before `router.verify`, do not). */
export async function hasRouterSchema(c: Client): Promise<boolean> {
  const { rows } = await c.query<{ ok: boolean }>('SELECT to_regprocedure($1) IS NOT NULL AS ok', [ROUTER_SCHEMA_PROBE]);
  return rows[0]?.ok === true;
}

/** Throws unless `role` is safe to serve tenants through (see router.unsafe_reason). */
export async function assertSafeRole(c: Client, role: string): Promise<void> {
  let why: string | null;
  try {
    why = (await c.query<{ why: string | null }>('SELECT router.unsafe_reason($1) AS why', [role])).rows[0]?.why ?? null;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '3F000' || code === '42883') throw new Error('this database has no router schema; run the region bootstrap first');
    throw err;
  }
  if (why !== null) throw new Error(`tenant database role is not safe to serve: ${why}`);
}

/**
 * Fences `tenantId` in the database `c` is connected to, and runs `work` (dropping the tenant's
 * rows or schema) in the same transaction. The exclusive advisory lock waits for the tenant's
 * transactions in flight (each holds it shared from router.enter); once this commits, every new
 * one finds the fence and is refused, so nothing can be written between the fence and `work`.
 */
export async function fenceTenant(c: Client, tenantId: string, reason: string, work: () => Promise<void> = async () => {}): Promise<void> {
  await inTransaction(c, async () => {
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2::uuid::text))', [FENCE_LOCK_CLASS, tenantId]);
    await c.query('INSERT INTO router.fences (tenant_id, reason) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING', [tenantId, reason]);
    await work();
  });
}

/**
 * Fences a dedicated database before it is dropped, so that requests in that moment are refused
 * with 404 rather than cut off. Best effort: the drop that follows (WITH FORCE) is what
 * guarantees that nothing is left, and a database made before the router schema has no fences.
 * `locate` gives the owner URL of the database, or null when it is already gone.
 */
export async function fenceDatabase(tenantId: string, locate: () => Promise<string | null>): Promise<void> {
  try {
    const url = await locate();
    if (url) await withClient(url, (c) => fenceTenant(c, tenantId, DELETED));
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'fencing a dedicated database failed; dropping it anyway', tenant: tenantId, error: String((err as Error)?.message ?? err).slice(0, 200) }));
  }
}

/** Longest the write fence waits for the tenant's read-write transactions in flight (each is bounded by its request's time). */
export const WRITE_FENCE_WAIT_MS = 15_000;

/**
 * Runs `work` with `tenantId`'s writes fenced in the database `c` is connected to: the session
 * takes the tenant's write lock exclusively, which waits for its read-write transactions in flight
 * (each holds it shared from router.enter); from the moment the lock is asked for, every new
 * transaction of the tenant is READ ONLY (a write fails 25006: 503 TENANT_MIGRATING), whatever its
 * snapshot. Released when `work` settles, or when the session ends (a mover that dies leaves no
 * fence behind: the source simply takes writes again). `c` must not be in a transaction.
 */
export async function withWriteFence<T>(c: Client, tenantId: string, work: () => Promise<T>): Promise<T> {
  await c.query(`SELECT set_config('lock_timeout', $1, false)`, [String(WRITE_FENCE_WAIT_MS)]);
  await c.query('SELECT pg_advisory_lock($1, hashtext($2::uuid::text))', [WRITE_FENCE_LOCK_CLASS, tenantId]);
  try {
    return await work();
  } finally {
    await c.query('SELECT pg_advisory_unlock($1, hashtext($2::uuid::text))', [WRITE_FENCE_LOCK_CLASS, tenantId]).catch(() => {});
  }
}

/** Makes `tenantId` read-only in this database until removeWriteFence (a moved tenant's source, until it is cleaned). */
export async function addWriteFence(c: Client, tenantId: string, reason: string): Promise<void> {
  await c.query('INSERT INTO router.write_fences (tenant_id, reason) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE SET reason = excluded.reason', [tenantId, reason]);
}

/** Lets `tenantId` write in this database again. */
export async function removeWriteFence(c: Client, tenantId: string): Promise<void> {
  await c.query('DELETE FROM router.write_fences WHERE tenant_id = $1', [tenantId]);
}

/** Removes the tenant's fence; for when no router can still send it a request. */
export async function removeFence(c: Client, tenantId: string): Promise<void> {
  await c.query('DELETE FROM router.fences WHERE tenant_id = $1', [tenantId]);
}

/** Deletes a row tenant's rows from every shared table with a `tenant_id`; call inside the fence. */
export async function deleteSharedRows(c: Client, tenantId: string): Promise<void> {
  // RLS is forced on the shared tables and the owner may not bypass it: admit this tenant's rows.
  await c.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
  for (const table of await sharedTables(c)) await c.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]);
}

/** A row tenant's rows left in the shared tables. */
export async function countSharedRows(c: Client, tenantId: string): Promise<number> {
  return inTransaction(c, async () => {
    await c.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    let n = 0;
    for (const table of await sharedTables(c)) {
      n += Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenantId])).rows[0]?.n ?? 0);
    }
    return n;
  });
}

/** The shared tables (top-level, partitioned ones once) with a `tenant_id` column, quoted. */
export async function sharedTables(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, t.relname) AS name FROM pg_class t
       JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
      WHERE n.nspname = 'shared' AND t.relkind IN ('r', 'p') AND NOT t.relispartition ORDER BY 1`);
  return rows.map((r) => r.name);
}
