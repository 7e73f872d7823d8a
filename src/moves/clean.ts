/**
 * Emptying the placement a moved tenant left (pure SQL on an owner connection). Not the
 * provisioner's deprovision: that fences the tenant in the whole database, and a move between
 * `row` and `schema` leaves source and target in the same one. Stale routers are kept out of the
 * source by its placement floor (router.enter, TR004), not by a fence.
 */
import type { Client } from '@neondatabase/serverless';
import { inTransaction } from '../provisioning/pg-client.js';
import { tenantIdent, type Placement } from '../provisioning/provisioner.js';
import { tenantTables, quoteIdent } from './copy.js';

/** Deletes the tenant's rows (row) or drops its schema and role (schema) in the database `c` is connected to; idempotent. */
export async function cleanPlacement(c: Client, tenantId: string, p: Placement): Promise<void> {
  const ident = tenantIdent(tenantId);
  if (p.strategy === 'row') {
    await inTransaction(c, async () => {
      await c.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      for (const t of await tenantTables(c, 'shared')) await c.query(`DELETE FROM shared.${quoteIdent(t.name)} WHERE tenant_id = $1`, [tenantId]);
    });
    return;
  }
  if (p.strategy === 'schema') {
    if (p.schemaName !== ident) throw new Error('unexpected schema of a schema placement');
    await c.query(`DROP SCHEMA IF EXISTS ${ident} CASCADE`);
    await c.query(`DROP ROLE IF EXISTS ${ident}`);
    return;
  }
  throw new Error('a dedicated database is not cleaned by a move');
}

/** What is left of the tenant in a placement it left: rows (row), schemas and roles (schema). */
export async function leftInPlacement(c: Client, tenantId: string, p: Placement): Promise<number> {
  const ident = tenantIdent(tenantId);
  if (p.strategy === 'row') {
    await c.query("SELECT set_config('app.tenant_id', $1, false)", [tenantId]);
    let n = 0;
    for (const t of await tenantTables(c, 'shared')) n += (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM shared.${quoteIdent(t.name)} WHERE tenant_id = $1`, [tenantId])).rows[0]!.n;
    return n;
  }
  const { rows } = await c.query<{ n: number }>(
    'SELECT ((SELECT count(*) FROM pg_namespace WHERE nspname = $1) + (SELECT count(*) FROM pg_roles WHERE rolname = $1))::int AS n', [ident]);
  return rows[0]!.n;
}
