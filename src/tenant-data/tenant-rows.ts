/**
 * A tenant's own rows in its storage, read for an export in one consistent snapshot (a read-only
 * repeatable-read transaction) with its isolation applied: `row` tenants on the region's shared
 * schema with `app.tenant_id` set (row-level security) and an explicit `tenant_id = $1` besides;
 * `schema` tenants in their schema (search_path) with `app.tenant_id` set; `database` tenants on
 * their own database, through the connection string sealed for them. The tenant's identifiers
 * are bound parameters (set_config), never SQL text; table names come from the catalogue.
 */
import type { Client } from '@neondatabase/serverless';
import { open, type MasterKeys } from '../crypto/secret-box.js';
import { AppError } from '../errors.js';
import { inTransaction, withClient } from '../provisioning/pg-client.js';
import type { Placement } from '../provisioning/provisioner.js';

/** Rows one export may hold (all tables together); a larger tenant is refused rather than half exported. */
export const MAX_EXPORT_ROWS = 100_000;

const quote = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/** A table's rows, each as PostgreSQL's own JSON text (`to_jsonb(row)::text`): numerics keep every digit, never rounded through a JS number. */
export interface TableRows { table: string; rows: string[] }

/** The tenant's tables and their rows, table by table in name order. */
export async function readTenantRows(tenantId: string, p: Placement, o: { regionAdminUrls: Record<string, string>; masterKeys: MasterKeys }): Promise<TableRows[]> {
  let url: string | undefined;
  if (p.strategy === 'database') {
    if (!p.connectionSecret) throw new AppError(409, 'INVALID_STATE', 'the tenant has no database yet');
    url = await open(o.masterKeys, p.connectionSecret, tenantId);
  } else {
    url = Object.hasOwn(o.regionAdminUrls, p.region) ? o.regionAdminUrls[p.region] : undefined;
  }
  if (!url) throw new AppError(503, 'UPSTREAM_UNAVAILABLE', `region ${p.region} is not served by this control plane`);
  const schema = p.strategy === 'row' ? 'shared' : p.schemaName;
  if (!schema) throw new AppError(409, 'INVALID_STATE', 'the tenant has no storage yet');
  return withClient(url, (c) => snapshot(c, tenantId, schema, p.strategy === 'row'), { statementTimeoutMs: 60_000 });
}

async function snapshot(c: Client, tenantId: string, schema: string, shared: boolean): Promise<TableRows[]> {
  return inTransaction(c, async () => {
    await c.query("SELECT set_config('app.tenant_id', $1, true), set_config('search_path', $2, true)", [tenantId, schema]);
    // Shared tables: only those that carry a tenant id (each row is someone's); own schema: all.
    const { rows: tables } = await c.query<{ name: string }>(shared
      ? `SELECT c.table_name AS name FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
          WHERE c.table_schema = $1 AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' ORDER BY 1`
      : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1", [schema]);
    const out: TableRows[] = [];
    let total = 0;
    for (const { name } of tables) {
      const { rows } = await c.query<{ r: string }>(
        `SELECT to_jsonb(t)::text AS r FROM ${quote(name)} t ${shared ? 'WHERE t.tenant_id = $1::uuid' : ''} ORDER BY 1 LIMIT ${MAX_EXPORT_ROWS + 1}`,
        shared ? [tenantId] : []);
      total += rows.length;
      if (total > MAX_EXPORT_ROWS) throw new AppError(413, 'PAYLOAD_TOO_LARGE', `the tenant holds more than ${MAX_EXPORT_ROWS} rows: too many for one export`);
      out.push({ table: name, rows: rows.map((x) => x.r) });
    }
    return out;
  }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

